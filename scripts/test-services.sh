#!/usr/bin/env bash
# Make sure the services integration tests need are present: redis-server (Debian package) and a running
# PostgreSQL cluster with an `inferstack` role and `inferstack_test` database. Idempotent; run by `make test`.
set -euo pipefail

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
    echo "test-services: need root (or passwordless sudo) for: $*" >&2; return 1; fi
}

if ! command -v redis-server >/dev/null; then
  echo "test-services: installing redis-server"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null \
    || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; }
fi
# Debian starts a system redis on install; tests start their own on free ports, so leave it alone.

# PostgreSQL: the shared cluster below, and initdb/pg_ctl for the private instances fault tests stop and start.
if ! command -v pg_lsclusters >/dev/null; then
  echo "test-services: installing postgresql"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null \
    || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; } \
    || echo "test-services: could not install postgresql" >&2
fi

if command -v pg_lsclusters >/dev/null; then
  read -r version cluster port status _ < <(pg_lsclusters --no-header | head -1)
  if [ "$status" != "online" ]; then
    echo "test-services: starting PostgreSQL $version/$cluster"
    as_root pg_ctlcluster "$version" "$cluster" start
  fi
  psql_admin() { as_root su postgres -c "psql -p $port -qtAX -c \"$1\""; }
  if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='inferstack'")" != "1" ]; then
    psql_admin "CREATE ROLE inferstack LOGIN PASSWORD 'inferstack'"
  fi
  if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='inferstack_test'")" != "1" ]; then
    psql_admin "CREATE DATABASE inferstack_test OWNER inferstack"
  fi
  echo "postgresql://inferstack:inferstack@127.0.0.1:$port/inferstack_test" > .test-database-url
else
  echo "test-services: PostgreSQL is not installed; PostgreSQL tests will fail" >&2
fi

# Prometheus 2.42 (server + promtool) for the alert-rule unit tests and the scrape tests. Debian enables a
# system prometheus service on install; tests start their own on free loopback ports and leave it alone.
if ! command -v promtool >/dev/null; then
  echo "test-services: installing prometheus"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null \
    || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null; } \
    || echo "test-services: could not install prometheus; prometheus tests will fail" >&2
fi

# Chromium for the console's browser tests (tests/browser), driven by Python playwright via executable_path.
if ! command -v chromium >/dev/null; then
  echo "test-services: installing chromium"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null \
    || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; } \
    || echo "test-services: could not install chromium; browser tests will fail" >&2
fi
