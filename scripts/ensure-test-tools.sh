#!/usr/bin/env bash
# Tools the test suite uses beyond Python packages: promtool (Debian's prometheus package)
# checks the Prometheus configuration and alert rules.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v promtool >/dev/null 2>&1; then
  echo "installing promtool…"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
