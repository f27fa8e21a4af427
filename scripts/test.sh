#!/usr/bin/env bash
# Installs everything the test suite needs, then runs the quality gates and the whole suite.
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

# System packages: bubblewrap for the isolated sandbox path, slirp4netns for sandboxes that
# may use the internet but not this machine's loopback, iproute2 for the routing rules that
# keep them off private ranges, e2fsprogs for the size-capped workspace images.
if ! command -v bwrap >/dev/null 2>&1 || ! command -v slirp4netns >/dev/null 2>&1 \
  || ! command -v ip >/dev/null 2>&1 || ! command -v mkfs.ext4 >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq bubblewrap slirp4netns iproute2 \
    e2fsprogs >/dev/null
fi

# slirp4netns needs the TUN device; a container may lack the node (the module is in the kernel).
# The network-isolation tests fail without it rather than skip.
if [ ! -e /dev/net/tun ]; then
  $SUDO mkdir -p /dev/net
  $SUDO mknod -m 666 /dev/net/tun c 10 200
fi

# Python: the package with every extra and the test tools. torch is pinned to the CPU build.
python3 -m pip install -q -e ".[all,test]"

# chromium + chromium-driver: the real headless browser the views and dashboard are tested in.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# The MCP Inspector CLI (a real MCP client no one here wrote), pinned, for conformance tests.
if [ ! -x tests/inspector/node_modules/.bin/mcp-inspector ]; then
  (cd tests/inspector && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi

ruff check server agent toolkits tests benchmarks examples
ruff format --check server agent toolkits tests benchmarks examples
pyright

# Exit code 5 (no tests collected) is a failure too: set -e stops on any non-zero code.
python3 -m pytest -q "$@"
