#!/usr/bin/env bash
# Refresh README's pictures of the views and the dashboard (docs/views/) from the browser tests,
# which save a screenshot of every page they drive in tests/artifacts/. Needs Debian's chromium
# and chromium-driver (scripts/test.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" timeout 900 python3 -m pytest -q -p no:cacheprovider \
  tests/views/test_apps.py tests/views/test_dashboard.py tests/views/test_decline_and_live.py
mkdir -p docs/views
# The pictures README shows (keep this list and README's image links in step).
for name in app-experiment app-job app-approval dashboard-overview dashboard-experiment \
  dashboard-job dashboard-approval dashboard-decline; do
  cp "tests/artifacts/$name.png" "docs/views/$name.png"
done
echo "docs/views/ refreshed from tests/artifacts/"
