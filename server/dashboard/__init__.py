"""The web dashboard at ``/``: jobs, experiments, journals, delegated runs and approvals."""

from server.dashboard.routes import Dashboard, mount_dashboard

__all__ = ["Dashboard", "mount_dashboard"]
