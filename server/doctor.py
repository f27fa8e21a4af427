"""``mlintern-server doctor``: one line per thing the server relies on, each with its fix.

Exit status 1 when something the default toolsets need is missing (``fail``); ``warn`` lines
are optional features that are off. Credentials are reported as set or unset, never shown.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from server.extras import CORE_MODULES, OPTIONAL_MODULES, install_hint
from server.settings import Settings

Level = Literal["ok", "warn", "fail"]


@dataclass
class Check:
    level: Level
    name: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.level:<4}  {self.name}: {self.detail}"
        return text + (f" — fix: {self.fix}" if self.fix and self.level != "ok" else "")


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < (3, 11):  # noqa: UP036 - the doctor may run under an older Python
        return Check("fail", "python", version, "use Python 3.11 or newer")
    return Check("ok", "python", f"{version} ({sys.executable})")


def _module(name: str, required: bool) -> Check:
    found = importlib.util.find_spec(name.split(".")[0]) is not None
    if found and "." in name:
        found = importlib.util.find_spec(name) is not None
    if found:
        return Check("ok", f"package {name}", "installed")
    return Check("fail" if required else "warn", f"package {name}", "missing", install_hint(name))


def _run_quietly(cmd: list[str]) -> bool:
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _bubblewrap(settings: Settings) -> Check:
    # Sandboxes refuse to run without namespaces unless the operator opted in.
    level: Level = "warn" if settings.sandbox_allow_unisolated else "fail"
    path = shutil.which(settings.sandbox_bwrap)
    if path is None:
        return Check(
            level,
            "bubblewrap",
            f"{settings.sandbox_bwrap!r} not found; sandbox_create refuses to run",
            "apt-get install bubblewrap (or set MLINTERN_SANDBOX_BWRAP)",
        )
    probe = [path, "--unshare-user", "--unshare-pid", "--ro-bind", "/", "/", "--proc", "/proc"]
    if not _run_quietly([*probe, "true"]):
        return Check(
            level,
            "user namespaces",
            f"{path} cannot create a user namespace",
            "sysctl -w kernel.unprivileged_userns_clone=1 (or "
            "kernel.apparmor_restrict_unprivileged_userns=0), or run outside this container",
        )
    return Check("ok", "bubblewrap", f"{path}, user namespaces work")


def _slirp(settings: Settings) -> Check:
    path = shutil.which(settings.sandbox_slirp4netns)
    if path is None:
        return Check(
            "warn",
            "slirp4netns",
            "not found; network=True sandboxes share the host's network",
            "apt-get install slirp4netns",
        )
    return Check("ok", "slirp4netns", path)


def _cgroups() -> Check:
    controllers = Path("/sys/fs/cgroup/cgroup.controllers")
    if not controllers.exists():
        return Check(
            "warn", "cgroup v2", "not mounted; sandbox memory/CPU limits are not enforced",
            "boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)",
        )  # fmt: skip
    own = _own_cgroup()
    if own is None or not os.access(own, os.W_OK):
        return Check(
            "warn",
            "cgroup delegation",
            "this user cannot create cgroups; sandbox limits are not enforced",
            "run under a delegated scope: systemd-run --user --scope -p Delegate=yes "
            "mlintern-server",
        )
    return Check("ok", "cgroup delegation", str(own))


def _own_cgroup() -> Path | None:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return Path("/sys/fs/cgroup") / line[3:].lstrip("/")
    except OSError:
        return None
    return None


def _gpus() -> Check:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return Check("ok", "gpus", "none found (local jobs run on CPU)")
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return Check("warn", "gpus", "nvidia-smi does not answer", "check the NVIDIA driver")
    count = sum(1 for line in out.splitlines() if line.startswith("GPU "))
    return Check("ok", "gpus", f"{count} NVIDIA GPU(s)")


def _state_dir(settings: Settings) -> Check:
    home = settings.home
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return Check(
            "fail", "state directory", f"{home} is not writable ({exc.strerror})",
            "set MLINTERN_HOME to a writable directory",
        )  # fmt: skip
    return Check("ok", "state directory", str(home))


CREDENTIALS = {
    "hf_token": ("HF_TOKEN", "private Hub repos, uploads, hf jobs"),
    "github_token": ("GITHUB_TOKEN", "GitHub code search and higher rate limits"),
    "e2b_api_key": ("E2B_API_KEY", "E2B cloud sandboxes"),
    "semantic_scholar_api_key": ("SEMANTIC_SCHOLAR_API_KEY", "higher citation rate limits"),
}


def _credentials(settings: Settings) -> list[Check]:
    checks = []
    for field, (variable, purpose) in CREDENTIALS.items():
        if getattr(settings, field) is not None:
            checks.append(Check("ok", variable, "set"))
        else:
            checks.append(
                Check("warn", variable, f"unset; needed for {purpose}", f"export {variable}=...")
            )
    return checks


def remote_endpoints(settings: Settings) -> dict[str, str]:
    return {
        "Hub (HF_ENDPOINT)": settings.hf_endpoint,
        "dataset viewer (MLINTERN_DATASETS_SERVER_URL)": settings.datasets_server_url,
        "Semantic Scholar (MLINTERN_SEMANTIC_SCHOLAR_URL)": settings.semantic_scholar_url,
        "arXiv (MLINTERN_ARXIV_URL)": settings.arxiv_url,
        "GitHub API (MLINTERN_GITHUB_API_URL)": settings.github_api_url,
        "docs (MLINTERN_DOCS_URL)": settings.docs_url,
        "Ray Jobs API (MLINTERN_RAY_ADDRESS)": settings.ray_address,
    }


def _remote(settings: Settings) -> list[Check]:
    import httpx

    checks = []
    timeout = min(settings.http_timeout_s, 10.0)
    for name, url in remote_endpoints(settings).items():
        try:
            # No credentials are sent: this asks only whether the endpoint answers.
            response = httpx.get(url, timeout=timeout, follow_redirects=False)
        except httpx.HTTPError as exc:
            checks.append(
                Check("warn", name, f"{url} does not answer ({type(exc).__name__})",
                      "check the network/proxy, or point the setting at a reachable server")
            )  # fmt: skip
            continue
        checks.append(Check("ok", name, f"{url} answers (HTTP {response.status_code})"))
    return checks


def run_checks(settings: Settings, remote: bool = False) -> list[Check]:
    checks = [_python()]
    checks += [_module(name, required=True) for name in CORE_MODULES]
    checks += [_module(name, required=False) for name in OPTIONAL_MODULES]
    checks += [_bubblewrap(settings), _slirp(settings), _cgroups(), _gpus(), _state_dir(settings)]
    checks += _credentials(settings)
    if remote:
        checks += _remote(settings)
    return checks


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mlintern-server doctor",
        description="Check everything mlintern relies on; one line per check with its fix. "
        "Exits 1 when something the default toolsets need is missing.",
    )
    parser.add_argument("--remote", action="store_true", help="also probe each remote endpoint")
    parser.add_argument("--home", help="state directory to check (or MLINTERN_HOME)")
    args = parser.parse_args(argv)
    settings = Settings(**({"home": args.home} if args.home else {}))
    checks = run_checks(settings, remote=args.remote)
    for check in checks:
        print(check.line())
    failed = [check.name for check in checks if check.level == "fail"]
    if failed:
        print(f"doctor: {len(failed)} problem(s) to fix: {', '.join(failed)}")
        return 1
    print("doctor: everything the default toolsets need is here")
    return 0
