#!/usr/bin/env bash
# A real single-node Apache Kafka (KRaft, broker+controller in one JVM) for tests and CI, on
# 127.0.0.1. No Docker: the broker's jars come from Maven Central (scripts/kafka/pom.xml) and are
# cached in ~/.cache/blindvote/kafka/<version>/libs, so every run after the first starts at once.
#
#   scripts/kafka.sh start    start in the background unless already running; returns once the
#                             broker answers a real client (scripts/kafka/Ready.java)
#   scripts/kafka.sh stop     stop the broker started by `start` (TERM, then KILL after 30 s)
#   scripts/kafka.sh status   exit 0 when the broker answers a client, 1 otherwise
#   scripts/kafka.sh fetch    fetch the jars when missing; print the libs directory
#   scripts/kafka.sh prepare  fetch, write <dir>/server.properties, format <dir>/data if new
#   scripts/kafka.sh run      prepare, then run the broker in the foreground (exec: the caller's
#                             child IS the JVM, so SIGKILL kills the broker; server/src/testing/kafka.ts)
#
# Options (or environment): --port N (BLINDVOTE_KAFKA_PORT, default 9092),
#   --controller-port N (BLINDVOTE_KAFKA_CONTROLLER_PORT, default port+1),
#   --dir DIR (BLINDVOTE_KAFKA_DIR, default ~/.cache/blindvote/kafka/broker-<port>): the broker's
#   own directory: server.properties, broker.log, broker.pid and the data (DIR/data).
# BLINDVOTE_KAFKA_HEAP (default -Xmx1g) sets the JVM heap.
#
# Kafka 4.1.2: KRaft-only (what production runs now), the latest patch of a line inside the range
# @platformatic/kafka is tested against (3.5-4.2), and it runs on the machine's Java 17.
set -euo pipefail

KAFKA_VERSION="${BLINDVOTE_KAFKA_VERSION:-4.1.2}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/blindvote/kafka/$KAFKA_VERSION"
LIBS="$CACHE/libs"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

command="${1:-}"
[ $# -gt 0 ] && shift
port="${BLINDVOTE_KAFKA_PORT:-9092}"
controller_port="${BLINDVOTE_KAFKA_CONTROLLER_PORT:-}"
dir="${BLINDVOTE_KAFKA_DIR:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --controller-port) controller_port="$2"; shift 2 ;;
    --dir|--data-dir) dir="$2"; shift 2 ;;
    *) echo "kafka.sh: unknown argument $1 (see the header of scripts/kafka.sh)" >&2; exit 2 ;;
  esac
done
controller_port="${controller_port:-$((port + 1))}"
dir="${dir:-${XDG_CACHE_HOME:-$HOME/.cache}/blindvote/kafka/broker-$port}"
bootstrap="127.0.0.1:$port"

say() { echo "kafka.sh: $*" >&2; }

fetch() {
  [ -f "$LIBS/.complete" ] && return 0
  command -v mvn >/dev/null || { say "mvn not found: install Maven (apt-get install maven) and Java 17+"; return 1; }
  say "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
  local tmp="$CACHE/libs.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! mvn -q -B -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$CACHE/mvn.log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$CACHE/mvn.log" >&2
    say "mvn could not fetch the Kafka jars (output above); is Maven Central reachable?"
    return 1
  fi
  touch "$tmp/.complete"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
}

# The probe is compiled once per Kafka version (a JVM start is ~0.5 s; compiling adds ~1 s).
probe() { # probe SECONDS
  local classes="$CACHE/probe"
  if [ ! -f "$classes/Ready.class" ] || [ "$HERE/kafka/Ready.java" -nt "$classes/Ready.class" ]; then
    mkdir -p "$classes"
    javac -nowarn -cp "$LIBS/*" -d "$classes" "$HERE/kafka/Ready.java" >&2
  fi
  java -Xmx128m -XX:TieredStopAtLevel=1 -Dorg.slf4j.simpleLogger.defaultLogLevel=off \
    -cp "$LIBS/*:$classes" Ready "$bootstrap" "$1"
}

# A 1-node test cluster: every replication factor and min ISR is 1; groups rebalance at once.
write_config() {
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka.sh: edits are overwritten on the next start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
# A broker restarted after a crash re-registers once its old session expired: keep that short.
broker.session.timeout.ms=2000
broker.heartbeat.interval.ms=500
auto.create.topics.enable=false
log.retention.hours=24
EOF
}

java_opts() {
  # shellcheck disable=SC2206
  local heap=(${BLINDVOTE_KAFKA_HEAP:--Xmx1g})
  echo "${heap[@]} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true" \
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.showDateTime=true" \
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS -Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info"
}

prepare() {
  fetch
  write_config
  if [ ! -f "$dir/data/meta.properties" ]; then
    # A cluster id is a base64url UUID without padding; one starting with '-' would read as an option.
    local cluster_id=-
    while [ "${cluster_id:0:1}" = - ]; do
      cluster_id=$(printf "$(tr -d - </proc/sys/kernel/random/uuid | sed 's/../\\x&/g')" | base64 | tr '+/' '-_' | tr -d '=')
    done
    java -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$LIBS/*" kafka.tools.StorageTool \
      format -t "$cluster_id" -c "$dir/server.properties" >/dev/null
  fi
}

running_pid() {
  local pid
  pid=$(cat "$dir/broker.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

start() {
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  fetch
  if running_pid >/dev/null || port_open; then
    # Started before (by us or someone else): only make sure it answers.
    if probe 60; then return 0; fi
    say "something holds 127.0.0.1:$port but does not answer as a Kafka broker; log: $dir/broker.log"
    return 1
  fi
  prepare
  say "starting Kafka $KAFKA_VERSION on $bootstrap (log: $dir/broker.log)"
  # shellcheck disable=SC2046
  setsid nohup java $(java_opts) -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" \
    >>"$dir/broker.log" 2>&1 </dev/null 9>&- &
  echo $! >"$dir/broker.pid"
  if ! probe 90; then
    say "Kafka did not become ready; the end of $dir/broker.log:"
    tail -n 30 "$dir/broker.log" >&2
    return 1
  fi
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$dir/broker.pid"
    return 0
  fi
  kill "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "Kafka (pid $pid) did not stop in 30 s: killing it"
    kill -9 "$pid"
  fi
  rm -f "$dir/broker.pid"
}

case "$command" in
  fetch) fetch; echo "$LIBS" ;;
  prepare) prepare ;;
  run)
    prepare
    # shellcheck disable=SC2046
    exec java $(java_opts) -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" ;;
  start) start ;;
  stop) stop ;;
  status) fetch && probe 2 ;;
  *) echo "usage: scripts/kafka.sh start|stop|status|fetch|prepare|run [--port N] [--controller-port N] [--dir DIR]" >&2; exit 2 ;;
esac
