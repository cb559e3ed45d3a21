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
# The default address goes to wangge through its environment variable, so that a --bind among the
# arguments (which go to `wangge serve` as they are) overrides it: a flag wins over the
# environment. A settings file (--config FILE, or WANGGE_CONFIG) ranks below the environment, so
# the script sets WANGGE_BIND only when neither --bind nor a settings file is given; then the
# file's `bind` (or wangge's own default, the same 127.0.0.1:8080) holds. A WANGGE_BIND you set
# yourself is passed on as it is, and beats the file. The URL printed and opened follows the same
# rules (a file's `bind` is read from its `bind = "…"` line).
BIND=${WANGGE_BIND:-}
CONFIG=${WANGGE_CONFIG:-}
args=("$@")
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    --bind=*) BIND=${args[$i]#--bind=} ;;
    --bind) BIND=${args[$((i + 1))]:-} ;;
    --config=*) CONFIG=${args[$i]#--config=} ;;
    --config) CONFIG=${args[$((i + 1))]:-} ;;
  esac
done
if [ -z "$BIND" ] && [ -z "$CONFIG" ]; then
  export WANGGE_BIND=127.0.0.1:8080
  BIND=$WANGGE_BIND
fi
if [ -z "$BIND" ] && [ -f "$CONFIG" ]; then
  BIND=$(sed -n 's/^[[:space:]]*bind[[:space:]]*=[[:space:]]*["'\'']\([^"'\'']*\)["'\''].*/\1/p' "$CONFIG" | tail -n 1)
fi
URL="http://${BIND:-127.0.0.1:8080}/"
if command -v xdg-open >/dev/null && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  (sleep 3 && xdg-open "$URL" >/dev/null 2>&1) &
fi
echo "serving the demo at $URL (Ctrl-C stops)" >&2
exec target/release/wangge serve --demo-diary "$@"
