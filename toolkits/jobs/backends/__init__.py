"""Where jobs run. Adding a backend = one module with a ``Backend`` subclass + one line here.

Modules are imported only when a job uses them: the hf and ray clients are heavy.
"""

from __future__ import annotations

BACKENDS: dict[str, str] = {
    "local": "toolkits.jobs.backends.local:LocalBackend",
    "hf": "toolkits.jobs.backends.hf_jobs:HfJobsBackend",
    "ray": "toolkits.jobs.backends.ray_jobs:RayJobsBackend",
}
