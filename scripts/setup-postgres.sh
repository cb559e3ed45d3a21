#!/usr/bin/env bash
# Installs PostgreSQL 15 with PostGIS 3 (Debian packages), starts the cluster and creates the
# role and database the test suite uses. Idempotent: safe to run again.
# Prints the database URL on its last line.
set -euo pipefail

PGUSER_NAME=${WANGGE_PG_USER:-wangge}
PGPASS=${WANGGE_PG_PASSWORD:-wangge}
PGDB=${WANGGE_PG_DB:-wangge_test}

as_postgres() { runuser -u postgres -- "$@"; }

if ! dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1; then
  echo "installing PostgreSQL 15 + PostGIS 3 from apt" >&2
  if [ "$(id -u)" != 0 ]; then echo "run as root (or install postgresql-15-postgis-3 yourself)" >&2; exit 1; fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 postgresql-15-postgis-3 >&2
fi

if ! pg_lsclusters -h | grep -q '^15 *main'; then
  pg_createcluster 15 main >&2
fi
if ! pg_lsclusters -h | awk '$1=="15" && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster 15 main start >&2
fi

for _ in $(seq 1 30); do
  as_postgres pg_isready -q && break
  sleep 1
done

# The test role creates one schema per test; SUPERUSER is not needed because the postgis
# extension is created here, by postgres, in the test database.
as_postgres psql -v ON_ERROR_STOP=1 -q <<SQL >&2
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PGUSER_NAME}') THEN
    CREATE ROLE ${PGUSER_NAME} LOGIN PASSWORD '${PGPASS}';
  END IF;
END \$\$;
SQL
# A test database starts empty every run (each test makes its own schema in it).
as_postgres dropdb --if-exists --force "${PGDB}"
as_postgres createdb -O "${PGUSER_NAME}" "${PGDB}"
as_postgres psql -v ON_ERROR_STOP=1 -q -d "${PGDB}" -c "CREATE EXTENSION IF NOT EXISTS postgis" >&2

echo "postgres://${PGUSER_NAME}:${PGPASS}@127.0.0.1:5432/${PGDB}"
