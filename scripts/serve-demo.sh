#!/usr/bin/env bash
# Builds wangge and serves the demo street (Zhuhai Road, Shinan, Qingdao) on
# http://127.0.0.1:8080 from the embedded SQLite default (data/wangge.db), then opens it in a
# browser when the machine has one. On a fresh Debian machine it first installs the build's only
# system requirement, cmake (for the PROJ library the proj crate builds), with apt.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cmake >/dev/null || ! command -v g++ >/dev/null; then
  echo "installing cmake and g++ (needed to build PROJ)" >&2
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq cmake g++
fi

cargo build --release --locked
# The web map at / loads MapLibre GL JS from web-map/node_modules (served by wangge itself).
if [ ! -f web-map/node_modules/maplibre-gl/dist/maplibre-gl.mjs ]; then
  if command -v npm >/dev/null; then
    npm ci --prefix web-map --no-audit --no-fund
  else
    echo "npm is missing: the API works, but the web map at / needs 'npm ci --prefix web-map'" >&2
  fi
fi
# The address goes to wangge through its environment variable, so that a --bind among the
# arguments (which go to `wangge serve` as they are) overrides it: a flag wins over the
# environment. The URL printed and opened follows the same rule.
BIND=${WANGGE_BIND:-127.0.0.1:8080}
args=("$@")
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    --bind=*) BIND=${args[$i]#--bind=} ;;
    --bind) BIND=${args[$((i + 1))]:-$BIND} ;;
  esac
done
URL="http://${BIND}/"
if command -v xdg-open >/dev/null && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  (sleep 3 && xdg-open "$URL" >/dev/null 2>&1) &
fi
echo "serving the demo at $URL (Ctrl-C stops)" >&2
WANGGE_BIND=${WANGGE_BIND:-127.0.0.1:8080} exec target/release/wangge serve --demo "$@"
