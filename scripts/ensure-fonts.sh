#!/usr/bin/env bash
# The CJK font mediation sets agreements (调解协议书) in: Debian's fonts-wqy-zenhei (TrueType
# outlines, which ReportLab embeds). Another font can be named with FENGQIAO_CJK_FONT.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if [ -z "${FENGQIAO_CJK_FONT:-}" ] && [ ! -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]; then
  echo "installing the CJK font fonts-wqy-zenhei…"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-wqy-zenhei >/dev/null
fi
