"""A sandbox's venv: host packages import, and pip installs land in the workspace."""

from __future__ import annotations

import sys

from sandbox_kit import host_has

from toolkits.sandbox.core import SandboxService

# Builds a minimal wheel with the standard library only, inside the sandbox: no index needed.
MAKE_WHEEL = """
import zipfile
files = {
    "tinypkg/__init__.py": "ANSWER = 42\\n",
    "tinypkg-0.1.dist-info/METADATA": "Metadata-Version: 2.1\\nName: tinypkg\\nVersion: 0.1\\n",
    "tinypkg-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
files["tinypkg-0.1.dist-info/RECORD"] = "".join(f"{name},,\\n" for name in files) + "tinypkg-0.1.dist-info/RECORD,,\\n"
with zipfile.ZipFile("tinypkg-0.1-py3-none-any.whl", "w") as wheel:
    for name, text in files.items():
        wheel.writestr(name, text)
"""


async def test_pip_installs_into_the_workspace_venv_that_sees_host_packages(
    service: SandboxService,
) -> None:
    sandbox = await service.create(network=True, files={"make_wheel.py": MAKE_WHEEL})
    built = await service.exec(sandbox.sandbox_id, "python make_wheel.py")
    assert built.exit_code == 0, built.stderr.text
    installed = await service.exec(
        sandbox.sandbox_id, "pip install --no-index ./tinypkg-0.1-py3-none-any.whl", timeout_s=120
    )
    assert installed.exit_code == 0, installed.stderr.text + installed.stdout.text
    used = await service.exec(
        sandbox.sandbox_id,
        "import tinypkg, yaml\nprint(tinypkg.ANSWER, tinypkg.__file__)\nprint(yaml.__file__)",
        language="python",
    )
    assert used.exit_code == 0, used.stderr.text
    answer_line, host_line = used.stdout.text.splitlines()
    assert answer_line.startswith(f"42 {sandbox.workspace}/.venv/lib/")
    assert not host_line.startswith(sandbox.workspace)  # PyYAML comes from the host, read-only
    site = f"{sandbox.workspace}/.venv/lib/python{sys.version_info[0]}.{sys.version_info[1]}"
    assert host_has(f"{site}/site-packages/tinypkg/__init__.py")
