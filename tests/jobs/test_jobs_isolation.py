"""Local jobs run isolated by default: no credentials, no host files, no host addresses, no root.

Each attack has a positive control (the same probe with isolation off, or an allowed path), so
a guard that broke open, or a job that never ran, fails the test.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from jobs_support import call, call_error, jobs_server, mcp_client, wait_for

from server.settings import Settings
from toolkits.jobs.backends import local_gpus

PLANTED = {
    "AZURE_OPENAI_KEY": "azure-fake-key-0123456789",
    "GH_PAT": "ghp_fakefakefakefakefakefakefakefake0000",
    "MY_DB_PASS": "hunter2-fake-password",
}
FAKE_TOKEN = "hf_fakefakefakefakefakefakefake"
# Each attempt prints how it ended: "ok:<what was read>" or the exception's name.
PROBE = """
import errno, json, os, socket, sys
paths = json.loads(sys.argv[1])
report = {"uid": os.getuid(), "env": sorted(os.environ), "home": os.environ["HOME"]}
def attempt(name, action):
    try:
        report[name] = "ok:" + str(action())
    except OSError as exc:
        report[name] = errno.errorcode.get(exc.errno, type(exc).__name__)
for name, path in paths["read"].items():
    attempt(name, lambda path=path: open(path).read().strip())
attempt("hub", lambda: sorted(os.listdir(paths["hub"])))
attempt("outside", lambda: open(paths["outside"], "w").write("x"))
attempt("metrics", lambda: open(os.environ["MLINTERN_METRICS_DIR"] + "/x", "w").write("x"))
def connect(host, port, kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.settimeout(3)
        sock.connect((host, port))
        return sock.recv(100).decode().strip() if kind == socket.SOCK_STREAM else "routed"
for name, (host, port) in paths["tcp"].items():
    attempt(name, lambda host=host, port=port: connect(host, port))
attempt("public", lambda: connect("1.1.1.1", 53, socket.SOCK_DGRAM))
print("REPORT " + json.dumps(report))
"""


def host_address() -> str | None:
    """One non-loopback IPv4 address of this machine (where 0.0.0.0 services listen)."""
    from server.egress import host_networks

    found = [n.removesuffix("/32") for n in host_networks() if n.endswith("/32")]
    return found[0] if found else None


class LineServer:
    """A TCP listener that greets each connection with one line (a service on the host)."""

    def __init__(self, host: str):
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)

    def serve(self, stop: anyio.Event) -> None:
        while not stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"hello from the host\n")


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """Fake credentials where a real user keeps them, in the server's own environment."""
    home = tmp_path / "userhome"
    hf = home / ".cache" / "huggingface"
    (hf / "hub" / "models--fake--model").mkdir(parents=True)
    (hf / "token").write_text(FAKE_TOKEN)
    (home / ".kaggle").mkdir()
    (home / ".kaggle" / "kaggle.json").write_text('{"key": "kaggle-fake-key"}')
    var_tmp = Path("/var/tmp") / f"mlintern-fake-cred-{secrets.token_hex(4)}"
    var_tmp.write_text("var-tmp-fake-secret")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(hf))
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    yield {"hf": hf, "kaggle": home / ".kaggle" / "kaggle.json", "var_tmp": var_tmp}
    var_tmp.unlink()


async def run_job(settings: Settings, args: dict) -> tuple[dict, str]:
    async with mcp_client(jobs_server(settings)) as c:
        job = await call(c, "jobs_submit", args)
        for _ in range(6):
            done = await call(c, "jobs_status", {"job_id": job["job_id"], "wait_s": 30})
            if done["reached"]:
                break
        assert done["status"] in ("completed", "failed"), done
        logs = await call(c, "jobs_logs", {"job_id": job["job_id"]})
    return done, logs["text"]


def report_of(text: str) -> dict:
    line = next((x for x in text.splitlines() if x.startswith("REPORT ")), None)
    assert line is not None, text
    return json.loads(line.removeprefix("REPORT "))


@pytest.mark.parametrize("isolation", ["bwrap", "off"])
async def test_a_job_reaches_nothing_of_the_host_unless_isolation_is_off(
    tmp_path: Path, planted: dict[str, Path], workdir: Path, isolation: str
) -> None:
    settings = Settings(home=tmp_path / "home", jobs_isolation=isolation, _env_file=None)  # type: ignore[call-arg]
    (workdir / "probe.py").write_text(PROBE)
    (workdir / ".env").write_text("DOTENV_SECRET=dotenv-fake-secret\n")
    config = tmp_path / "configs" / "run.yaml"
    config.parent.mkdir()
    config.write_text("lr: 0.1\n")
    config.chmod(0o600)  # private, as experiments_restart writes one: the job still reads it
    settings.home.mkdir(parents=True)
    (settings.home / "state-probe.txt").write_text("home-fake-secret")
    outside = tmp_path / "outside.txt"
    address = host_address()
    assert address is not None, "this machine has no non-loopback address to protect"
    loopback, own = LineServer("127.0.0.1"), LineServer(address)
    paths = {
        "read": {
            "token": str(planted["hf"] / "token"),
            "kaggle": str(planted["kaggle"]),
            "var_tmp": str(planted["var_tmp"]),
            "mlintern_home": str(settings.home / "state-probe.txt"),
            "dotenv": str(workdir / ".env"),
            "config": str(config),  # allowed: the job's own config file
        },
        "hub": str(planted["hf"] / "hub"),
        "outside": str(outside),
        "tcp": {"loopback": ["127.0.0.1", loopback.port], "own_address": [address, own.port]},
    }
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.to_thread.run_sync, loopback.serve, stop)
        tg.start_soon(anyio.to_thread.run_sync, own.serve, stop)
        done, text = await run_job(
            settings,
            {
                "script": "probe.py",
                "working_dir": str(workdir),
                "config_file": str(config),
                "script_args": [json.dumps(paths)],
            },
        )
        stop.set()
    report = report_of(text)
    assert done["status"] == "completed", text
    assert set(PLANTED) & set(report["env"]) == set()  # the allow-list, either way
    assert report["config"] == "ok:lr: 0.1"  # positive control: what the job is given
    assert report["metrics"] == "ok:1"
    if isolation == "off":  # positive control: every probe does reach a reachable host
        assert report["token"] == f"ok:{FAKE_TOKEN}"
        assert report["kaggle"] == 'ok:{"key": "kaggle-fake-key"}'
        assert report["var_tmp"] == "ok:var-tmp-fake-secret"
        assert report["mlintern_home"] == "ok:home-fake-secret"
        assert report["dotenv"] == "ok:DOTENV_SECRET=dotenv-fake-secret"
        assert report["outside"] == "ok:1" and outside.exists()
        assert report["loopback"] == report["own_address"] == "ok:hello from the host"
        assert "NOT isolated" in done["hardware"]
        return
    for name in ("token", "kaggle", "var_tmp", "mlintern_home"):
        assert report[name] == "ENOENT", (name, report[name])
    assert report["dotenv"] == "EACCES"  # masked by /dev/null on a nodev mount
    assert report["hub"] == "ok:['models--fake--model']"  # the hub cache stays readable
    assert report["outside"] in ("ENOENT", "EACCES", "EROFS") and not outside.exists()
    assert report["loopback"] == "ECONNREFUSED"  # its own loopback: nothing listens there
    assert report["own_address"] == "EACCES"  # the egress rules, at once
    assert report["public"] == "ok:routed"  # slirp4netns: the internet is routed
    assert "isolated (bubblewrap" in done["hardware"] and "internet only" in done["hardware"]
    assert FAKE_TOKEN not in text
    if os.geteuid() == 0:
        assert report["uid"] == 65534


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop happens only when the server is root")
async def test_a_planted_json_module_does_not_run_as_root(
    settings: Settings, tmp_path: Path
) -> None:
    work = tmp_path / "sandbox-like"
    work.mkdir()
    os.chown(work, 65534, 65534)
    secret = tmp_path / "root-only.txt"
    secret.write_text("root secret")
    secret.chmod(0o600)
    (work / "json.py").write_text(
        "import os\n"
        f"try:\n    print('READ', open({str(secret)!r}).read())\n"
        "except OSError as exc:\n    print('DENIED', type(exc).__name__, os.getuid())\n"
    )
    (work / "main.py").write_text("import json\n")
    _, text = await run_job(settings, {"script": "main.py", "working_dir": str(work)})
    assert "DENIED" in text and "READ" not in text, text
    # positive control: the same planted module, run by the host's root, does read it
    with anyio.fail_after(30):
        out = await anyio.run_process([sys.executable, "main.py"], cwd=work)
    assert "READ root secret" in out.stdout.decode()


def marked_processes(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def test_cancel_kills_the_whole_isolated_tree(settings: Settings) -> None:
    marker = f"{secrets.randbelow(10**6) + 3600}.5"  # this run's own sleeps, no other
    async with mcp_client(jobs_server(settings)) as c:
        job = await call(c, "jobs_submit", {"command": f"sleep {marker} & sleep {marker}; wait"})
        wait_for(lambda: len(marked_processes(marker)) >= 2, 60, "the job's two sleeps")
        cancelled = await call(c, "jobs_cancel", {"job_id": job["job_id"]})
        assert cancelled["status"] == "cancelled"
    wait_for(lambda: marked_processes(marker) == [], 15, "every process of the job to go")


async def test_without_bubblewrap_jobs_are_refused_naming_the_package(
    settings: Settings, workdir: Path
) -> None:
    (workdir / "ok.py").write_text("print('ran')\n")
    missing = settings.model_copy(update={"sandbox_bwrap": str(workdir / "no-bwrap")})
    async with mcp_client(jobs_server(missing)) as c:
        error = await call_error(c, "jobs_submit", {"script": str(workdir / "ok.py")})
        assert "is not installed" in error
        assert "apt-get install bubblewrap" in error and "MLINTERN_JOBS_ISOLATION=off" in error
        assert (await call(c, "jobs_list"))["total"] == 0  # nothing was recorded
    # positive control: the operator's explicit opt-out runs the same job, unisolated
    unisolated = missing.model_copy(update={"jobs_isolation": "off"})
    done, text = await run_job(unisolated, {"script": str(workdir / "ok.py")})
    assert done["status"] == "completed" and "ran" in text


async def test_a_job_is_held_to_its_memory_limit(settings: Settings, workdir: Path) -> None:
    from server import cgroups

    if not cgroups.detect().available:
        pytest.skip(f"no cgroup delegation here: {cgroups.detect().reason}")
    (workdir / "hog.py").write_text(
        "import sys\nblocks = [bytearray(1 << 20) for _ in range(int(sys.argv[1]))]\n"
        "print('held', len(blocks), 'MiB', flush=True)\n"
    )
    limited = {"script": str(workdir / "hog.py"), "resources": {"memory_gb": 0.25}}
    done, text = await run_job(settings, {**limited, "script_args": ["600"]})
    assert done["status"] == "failed" and "held" not in text, text
    assert "memory limit" in done["message"], done["message"]
    assert "cgroup" in done["hardware"] and "memory 0.25 GB" in done["hardware"]
    # positive control: within the limit the same job completes
    done, text = await run_job(settings, {**limited, "script_args": ["50"]})
    assert done["status"] == "completed" and "held 50 MiB" in text


def test_gpu_passthrough_arguments(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    assert local_gpus.gpu_bind_args(dev) == []  # no GPU: nothing bound
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "null"):
        (dev / name).touch()
    (dev / "dri").mkdir()
    args = local_gpus.gpu_bind_args(dev)
    bound = [args[i + 1 : i + 3] for i, a in enumerate(args) if a == "--dev-bind"]
    assert bound == [
        [str(dev / name), f"/dev/{name}"]
        for name in ("nvidia-uvm", "nvidia0", "nvidia1", "nvidiactl", "dri")
    ]
    assert ["--ro-bind-try", "/sys", "/sys"] == args[-9:-6]
    assert local_gpus.gpu_environment(2) == {"CUDA_VISIBLE_DEVICES": "0,1"}
    assert local_gpus.gpu_environment(0) == {"CUDA_VISIBLE_DEVICES": ""}
    assert local_gpus.gpu_environment(None) == {}  # unsaid: every GPU the host lets it see


async def test_asking_for_a_gpu_where_there_is_none_is_a_clear_error(
    settings: Settings, workdir: Path
) -> None:
    from toolkits.jobs.hardware import detect_gpus

    if detect_gpus():
        pytest.skip("this machine has GPUs")
    (workdir / "ok.py").write_text("print('ran')\n")
    async with mcp_client(jobs_server(settings)) as c:
        error = await call_error(
            c, "jobs_submit", {"script": str(workdir / "ok.py"), "resources": {"gpus": 1}}
        )
    assert "resources.gpus=1 but 0 GPU(s) were detected here" in error


@pytest.mark.parametrize("network", [False, True])
async def test_a_job_in_a_sandbox_workspace_gets_that_sandboxs_network(
    settings: Settings, network: bool
) -> None:
    from server.state import StateStore
    from toolkits.sandbox.core import SandboxService

    sandboxes = SandboxService(settings, StateStore(settings.state_path))
    sandbox = await sandboxes.create(network=network)
    try:
        probe = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        probe += "try:\n    s.connect(('1.1.1.1', 53)); print('NET routed')\n"
        probe += "except OSError as exc:\n    print('NET', exc.errno)\n"
        await sandboxes.write(sandbox.sandbox_id, "net.py", probe)
        done, text = await run_job(
            settings, {"script": "net.py", "working_dir": sandbox.sandbox_id}
        )
    finally:
        await sandboxes.destroy(sandbox.sandbox_id)
    assert done["status"] == "completed", text
    if network:  # positive control: the same probe is routed where the sandbox has network
        assert "NET routed" in text and "internet only" in done["hardware"]
    else:
        assert "NET routed" not in text and "NET 101" in text  # ENETUNREACH
        assert f"workspace of {sandbox.sandbox_id}, created with network=False" in done["hardware"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop happens only when the server is root")
async def test_a_script_the_jobs_uid_cannot_read_is_refused_with_the_fix(
    settings: Settings, tmp_path: Path
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "train.py").write_text("print('trained')\n")
    async with mcp_client(jobs_server(settings)) as c:
        error = await call_error(c, "jobs_submit", {"script": str(private / "train.py")})
    assert f"run as uid 65534, which cannot enter {private}" in error
    assert f"chmod o+rx {private}" in error and "MLINTERN_JOBS_ISOLATION=off" in error
    # positive control: once the folder is reachable, the same job runs (not writable: noted)
    private.chmod(0o755)
    done, text = await run_job(settings, {"script": str(private / "train.py")})
    assert done["status"] == "completed" and "trained" in text
    assert f"working_dir {private} is not writable by the job's uid 65534" in done["hardware"]


async def test_mlintern_home_inside_the_working_dir_stays_hidden(
    settings: Settings, tmp_path: Path
) -> None:
    os.chmod(tmp_path, 0o755)  # the working dir: MLINTERN_HOME (tmp_path/home) is inside
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "state-probe.txt").write_text("home-fake-secret")
    (tmp_path / "peek.py").write_text(
        "import errno, os, sys\n"
        "try:\n    print('READ', open(sys.argv[1]).read())\n"
        "except OSError as exc:\n    print('NOT', errno.errorcode[exc.errno])\n"
        "open(os.environ['MLINTERN_METRICS_DIR'] + '/m.jsonl', 'w').write('{}')\n"
    )
    probe = str(settings.home / "state-probe.txt")
    args = {"script": str(tmp_path / "peek.py"), "script_args": [probe]}
    done, text = await run_job(settings, args)
    # Gone from its view (ENOENT), not merely unreadable by its uid (EACCES); metrics still work.
    assert done["status"] == "completed" and "NOT ENOENT" in text, text
    # positive control: unisolated, the same job reads it
    unisolated = settings.model_copy(update={"jobs_isolation": "off"})
    done, text = await run_job(unisolated, args)
    assert "READ home-fake-secret" in text
