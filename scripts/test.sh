#!/usr/bin/env bash
# The whole test suite: every test against SQLite and against a real PostGIS.
# Installs and starts PostgreSQL/PostGIS if needed (Debian, as root); see README.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cmake >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake; }

WANGGE_TEST_POSTGRES=$(scripts/setup-postgres.sh | tail -n 1)
export WANGGE_TEST_POSTGRES
# Without this a missing PostgreSQL would make the PostGIS tests skip instead of fail.
export WANGGE_REQUIRE_POSTGRES=1

cargo test --locked "$@"
