#!/usr/bin/env bash
# Starts the real servers the integration tests talk to, when they are not running:
# PostgreSQL (the board's and, later, the issuer's databases), Redis (live read model, rate
# limits, pub/sub) and Kafka (the event bus of the distributed mode; scripts/kafka.sh). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

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

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }

if ! redis_ready; then
  if ! command -v redis-server >/dev/null; then
    echo "start-services: Redis is not running on 127.0.0.1:6379 and not installed (apt-get install redis-server)" >&2
    exit 1
  fi
  echo "start-services: starting Redis" >&2
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 50); do redis_ready && break; sleep 0.1; done
  redis_ready || { echo "start-services: Redis did not come up (log: /var/log/redis/ci.log)" >&2; exit 1; }
fi

scripts/kafka.sh start
