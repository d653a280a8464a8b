#!/usr/bin/env bash
# Starts the real servers the integration tests talk to, when they are not running:
# PostgreSQL (the board's and, later, the issuer's databases). Idempotent.
set -euo pipefail

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! pg_ready; then
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "start-services: PostgreSQL is not running on 127.0.0.1:5432 and not installed (apt-get install postgresql)" >&2
    exit 1
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "start-services: starting PostgreSQL $version" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  pg_ready || { echo "start-services: PostgreSQL did not come up" >&2; exit 1; }
fi
