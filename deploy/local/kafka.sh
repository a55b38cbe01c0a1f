#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for tests and
# the demo, run from the official Maven Central jars: no Docker, no Kafka tarball.
#
#   deploy/local/kafka.sh install                  fetch the broker jars (once; offline after)
#   deploy/local/kafka.sh start  [--port 19092]    format fresh storage, start, wait until ready
#                                [--keep-data]     start on the storage a stop left (restart)
#   deploy/local/kafka.sh stop   [--port 19092]    SIGTERM, then SIGKILL after --timeout
#                                [--purge]         and delete run-<port>/ (config, data, log)
#   deploy/local/kafka.sh status [--port 19092]    exit 0 running, 1 unhealthy, 3 not running
#
# Options: --port N (client listener, 127.0.0.1 only), --controller-port N (default port+1),
# --timeout S (bound on the start or stop wait, default 60), --stop-with-pid P (start only:
# stop the broker once process P exits, so a killed test run leaves no broker behind).
#
# The Kafka version is pinned in deploy/local/kafka/pom.xml. Jars land in .cache/kafka/jars
# (Maven's repository in .cache/kafka/m2); each port's config, data and broker.log live in
# .cache/kafka/run-<port>/. `start` on a port whose broker is running says so and exits 0.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
self="$root/deploy/local/kafka.sh"
here="$root/deploy/local/kafka"
pom="$here/pom.xml"
cache="$root/.cache/kafka"
jars="$cache/jars"
m2="$cache/m2"
heap="-Xms64m -Xmx512m"

tool="kafka"
# shellcheck source=deploy/local/common.sh
source "$root/deploy/local/common.sh"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pom_digest() { sha256sum "$pom" | cut -d' ' -f1; }

installed() { [ -f "$jars/.pom-sha256" ] && [ "$(cat "$jars/.pom-sha256")" = "$(pom_digest)" ]; }

install() {
  if installed; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found on PATH: install Maven (apt-get install maven)"
  local staging="$cache/jars.partial" mvn_log="$cache/maven.log" started=$SECONDS
  local fetch=(-q -B -f "$pom" "-Dmaven.repo.local=$m2"
    "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
    -DincludeScope=runtime "-DoutputDirectory=$staging")
  rm -rf "$staging"
  mkdir -p "$cache"
  if [ -d "$m2" ] && mvn -o "${fetch[@]}" >"$mvn_log" 2>&1; then
    say "copied the broker jars from the local Maven cache $m2"
  else
    rm -rf "$staging"
    say "downloading the Kafka broker jars with Maven into $m2"
    mvn "${fetch[@]}" >"$mvn_log" 2>&1 || {
      tail -n 30 "$mvn_log" >&2
      die "maven could not fetch the jars of $pom: check the network (log: $mvn_log)"
    }
    say "downloaded in $((SECONDS - started)) s"
  fi
  rm -rf "$jars"
  mv "$staging" "$jars"
  pom_digest >"$jars/.pom-sha256"
}

require_java() {
  command -v java >/dev/null ||
    die "java not found on PATH: install Java 17+ (apt-get install openjdk-17-jre-headless)"
  local version major
  version="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
  major="${version%%.*}"
  [ "${major:-0}" -ge 17 ] 2>/dev/null ||
    die "java $version is too old: Kafka 4 needs Java 17+ on PATH"
}

# Prints the pid of this port's broker if it is alive and really ours.
broker_pid() {
  local pidfile="$run/broker.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $run/server.properties" ||
    return 1
  echo "$pid"
}

log_tail() {
  say "last lines of $log:"
  tail -n 30 "$log" >&2 || true
}

write_config() {
  cat >"$run/server.properties" <<EOF
# Written by deploy/local/kafka.sh for a single test/demo node; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$run/data
auto.create.topics.enable=true
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=4
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.cleaner.dedupe.buffer.size=8388608
EOF
}

# Stops the broker once process $1 is gone; detached, so it outlives this script.
watch_owner() {
  local owner="$1" pid="$2"
  # shellcheck disable=SC2016 # the inner script takes its values as positional arguments
  setsid bash -c '
    while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 2; done
    if kill -0 "$2" 2>/dev/null; then exec "$3" stop --port "$4"; fi
  ' watch "$owner" "$pid" "$self" "$port" </dev/null >/dev/null 2>&1 &
}

# Waits until the broker has started and accepts connections; returns 1 after --timeout.
wait_ready() {
  local pid="$1" deadline=$((SECONDS + timeout))
  until port_open "$port" && grep -q "Kafka Server started" "$log"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail
      die "the broker exited during startup (log: $log)"
    fi
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# Deletes run-<port>/ and formats fresh KRaft storage in it.
format_storage() {
  local cluster_id
  rm -rf "$run"
  mkdir -p "$run"
  write_config
  # A KRaft cluster id is 16 random bytes in URL-safe base64 (22 characters, no padding).
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' 'AB' | cut -c1-22)"
  java -cp "$jars/*" -Dlog4j2.configurationFile="$here/log4j2.properties" \
    kafka.tools.StorageTool format --config "$run/server.properties" \
    --cluster-id "$cluster_id" >"$run/format.log" 2>&1 ||
    {
      tail -n 20 "$run/format.log" >&2
      die "formatting KRaft storage in $run/data failed (log: $run/format.log)"
    }
}

start() {
  local pid
  if pid="$(broker_pid)"; then
    wait_ready "$pid" ||
      die "pid $pid runs a broker for port $port that is not ready after $timeout s:" \
        "stop it, or read $log"
    say "already running on 127.0.0.1:$port (pid $pid)"
    return 0
  fi
  local p
  for p in "$port" "$controller_port"; do
    if port_open "$p"; then
      die "port $p is in use by another process: choose another with --port (and --controller-port)"
    fi
  done
  if [ "$keep_data" = 1 ] && [ ! -f "$run/data/meta.properties" ]; then
    die "no broker storage in $run/data to keep: start without --keep-data to format one"
  fi
  require_java
  install
  local started=$SECONDS
  if [ "$keep_data" = 1 ]; then
    write_config
  else
    format_storage
  fi
  # shellcheck disable=SC2086 # $heap holds several JVM options
  setsid java $heap -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/log4j2.properties" \
    -cp "$jars/*" kafka.Kafka "$run/server.properties" </dev/null >"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$run/broker.pid"
  if ! wait_ready "$pid"; then
    log_tail
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$run/broker.pid"
    die "the broker did not accept connections on 127.0.0.1:$port within $timeout s;" \
      "killed it (raise --timeout, or read $log)"
  fi
  if [ -n "$owner_pid" ]; then
    watch_owner "$owner_pid" "$pid"
  fi
  say "started on 127.0.0.1:$port in $((SECONDS - started)) s (pid $pid, log $log)"
}

stop() {
  local pid deadline
  if ! pid="$(broker_pid)"; then
    say "not running on port $port"
  else
    kill -TERM "$pid"
    deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      say "the broker did not stop within $timeout s; killed pid $pid"
    else
      say "stopped the broker on port $port (pid $pid)"
    fi
  fi
  rm -f "$run/broker.pid"
  if [ "$purge" = 1 ]; then
    rm -rf "$run"
  fi
}

status() {
  local pid
  if ! pid="$(broker_pid)"; then
    say "not running on port $port"
    exit 3
  fi
  if ! port_open "$port"; then
    say "pid $pid is alive but 127.0.0.1:$port is not accepting connections (log: $log)"
    exit 1
  fi
  say "running on 127.0.0.1:$port (pid $pid, log $log)"
}

[ $# -ge 1 ] || usage
command="$1"
shift
port=19092
controller_port=""
timeout=60
owner_pid=""
purge=0
keep_data=0
while [ $# -gt 0 ]; do
  case "$1" in
    --port | --controller-port | --timeout | --stop-with-pid)
      [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || die "$1 needs a number, e.g. $1 19092"
      case "$1" in
        --port) port="$2" ;;
        --controller-port) controller_port="$2" ;;
        --timeout) timeout="$2" ;;
        --stop-with-pid) owner_pid="$2" ;;
      esac
      shift 2
      ;;
    --purge)
      purge=1
      shift
      ;;
    --keep-data)
      keep_data=1
      shift
      ;;
    -h | --help) usage ;;
    *) die "unknown argument '$1': run 'deploy/local/kafka.sh --help' for the usage" ;;
  esac
done
controller_port="${controller_port:-$((port + 1))}"
for p in "$port" "$controller_port"; do
  [[ "$p" -ge 1 && "$p" -le 65535 ]] || die "port $p is out of range: use 1-65535"
done
[ "$port" != "$controller_port" ] || die "--controller-port must differ from --port"
run="$cache/run-$port"
log="$run/broker.log"

case "$command" in
  install)
    install
    version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
    say "Kafka $version jars ready in $jars"
    ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  -h | --help | help) usage ;;
  *) die "unknown command '$command': use install, start, stop or status" ;;
esac
