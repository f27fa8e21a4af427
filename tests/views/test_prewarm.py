"""The dashboard's background pass: a job listed on the overview for the first time has its
metrics read (and a long run's series cached) before anyone opens its page."""

from __future__ import annotations

import json
import time
from pathlib import Path

from server.dashboard.prewarm import Prewarm
from server.settings import Settings
from server.state import StateStore
from toolkits.experiments.sources import series_cache
from toolkits.experiments.sources.incremental import forget_all
from toolkits.jobs.core import JobService, build_spec

ROWS = series_cache.MIN_POINTS + 100


def finished_job(service: JobService) -> str:
    job_id = service.submit(build_spec(command="true", name="long-run")).job_id
    deadline = time.monotonic() + 60
    while service.refresh(job_id).status in ("queued", "running"):
        assert time.monotonic() < deadline, "the job never finished"
        time.sleep(0.1)
    return job_id


def until_idle(prewarm: Prewarm) -> None:
    deadline = time.monotonic() + 60
    while not prewarm.idle():
        assert time.monotonic() < deadline, "the background pass never finished"
        time.sleep(0.05)
    assert series_cache.wait_for_saves()


def long_run(settings: Settings, store: StateStore) -> str:
    """A finished job that logged a long run (enough points for the series cache)."""
    service = JobService(settings, store)
    job_id = finished_job(service)
    job = service.get(job_id)
    metrics = Path(job.log_dir or Path(job.job_dir) / "metrics")
    metrics.mkdir(parents=True, exist_ok=True)
    with (metrics / "metrics.jsonl").open("w") as out:
        out.writelines(json.dumps({"step": s, "loss": 1 / (1 + s)}) + "\n" for s in range(ROWS))
    return job_id


def test_listed_jobs_are_read_once_in_the_background(settings: Settings) -> None:
    forget_all()
    store = StateStore(settings.state_path)
    job_id = long_run(settings, store)
    cache = settings.home.joinpath(*series_cache.FOLDER)
    assert not cache.exists()  # control: nothing read it yet

    prewarm = Prewarm(settings, store)
    prewarm.jobs_listed([{"job_id": job_id}, {"job_id": "j-does-not-exist"}])
    until_idle(prewarm)
    assert len(list(cache.glob("*.npz"))) == 1  # read through the tools' reader, and cached
    forget_all()


def test_the_pass_holds_back_while_a_page_is_served(settings: Settings) -> None:
    forget_all()
    store = StateStore(settings.state_path)
    job_id = long_run(settings, store)
    cache = settings.home.joinpath(*series_cache.FOLDER)
    prewarm = Prewarm(settings, store)
    with prewarm.page():
        prewarm.jobs_listed([{"job_id": job_id}])
        deadline = time.monotonic() + 60
        while not prewarm.yielded:
            assert time.monotonic() < deadline, "the pass never reached its first job"
            time.sleep(0.02)
        assert not cache.exists() and not prewarm.idle()  # waiting, nothing read
    until_idle(prewarm)  # the page was served: the pass goes on
    assert prewarm.yielded == 1
    assert len(list(cache.glob("*.npz"))) == 1
    forget_all()
