"""A local job starts from an allow-listed environment: credentials travel only when named."""

from __future__ import annotations

import json
import sys

import pytest
from jobs_support import call, jobs_server, mcp_client

from server.settings import Settings

PLANTED = {
    "AZURE_OPENAI_KEY": "azure-key-0123456789abcdef",
    "GH_PAT": "ghp_plantedPlantedPlanted0123456789abcd",
    "MY_DB_PASS": "hunter2-but-longer",
    "DATABASE_URL": "postgres://app:s3cr3t-pw@db.internal:5432/prod",
}
DUMP = "import json, os; print('ENV=' + json.dumps(sorted(os.environ)))"


async def test_a_job_sees_no_credential_unless_it_names_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    async with mcp_client(jobs_server(settings)) as c:
        submitted = await call(
            c,
            "jobs_submit",
            {
                "command": f'{sys.executable} -c "{DUMP}"',
                "env": {"MY_SETTING": "plain"},
                "secrets": ["GH_PAT"],
            },
        )
        job_id = submitted["job_id"]
        waited = await call(c, "jobs_status", {"job_id": job_id, "wait_s": 55})
        assert waited["status"] == "completed"
        logs = await c.call_tool("jobs_logs", {"job_id": job_id})
    text = logs.content[0].text
    names = json.loads(text.split("ENV=", 1)[1].splitlines()[0])
    # Positive controls: the locale, the GPU selection, the job's own env and the named secret.
    assert {"PATH", "LC_ALL", "CUDA_VISIBLE_DEVICES", "MY_SETTING", "GH_PAT"} <= set(names)
    assert "MLINTERN_JOB_ID" in names
    assert not {"AZURE_OPENAI_KEY", "MY_DB_PASS", "DATABASE_URL"} & set(names)
    assert not any(value in text for value in PLANTED.values())
