#!/usr/bin/env bash
# The whole test suite: every test against SQLite and against a real PostGIS, then the web map's
# tests in headless Chromium. Installs and starts PostgreSQL/PostGIS, and installs Chromium and a
# CJK font, if needed (Debian, as root); see README.
set -euo pipefail
cd "$(dirname "$0")/.."

# cmake builds PROJ; GDAL's ogrinfo is the external client the OGC API and tile tests use.
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v ogrinfo >/dev/null || need+=(gdal-bin)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
# With these set, a missing PostGIS or GDAL fails the suite instead of skipping those tests.
export WANGGE_REQUIRE_GDAL=1

WANGGE_TEST_POSTGRES=$(scripts/setup-postgres.sh | tail -n 1)
export WANGGE_TEST_POSTGRES
export WANGGE_REQUIRE_POSTGRES=1

# The web map's npm libraries first: the server tests fetch the page itself (its CSP hashes the
# page's inline import map, which is served only once MapLibre is installed).
if [ ! -f web-map/node_modules/.package-lock.json ] ||
  [ web-map/package-lock.json -nt web-map/node_modules/.package-lock.json ]; then
  npm ci --prefix web-map --no-audit --no-fund
fi

# Most integration tests wait on a server or on PostgreSQL rather than compute: four at a time
# keep two cores busy (measured: 113 s with two at a time, 87-94 s with four).
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-4}
cargo test --locked "$@"

# The web map (web-map/): its modules under Node's test runner, and the page in Debian's headless
# Chromium (WebGL through SwiftShader) against the binary cargo test just built. Chinese labels
# need a CJK font on the machine the browser runs on.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
fc-list :lang=zh family 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
npm test --prefix web-map
