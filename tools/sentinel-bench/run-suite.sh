#!/usr/bin/env bash
# The standard benchmark suite behind the README's performance figures (`make bench`).
#
# Starts sentinel-logd on a free loopback port with a temporary store, runs
# sentinel-bench's scenarios against it (once with --sync normal, then on a
# fresh store with --sync full for the full-sync ingest figure), times
# sentinel-export on the filled store, and prints the machine and a Markdown
# table: figure | target | measured | unit, followed by every run's own row.
# Every figure is measured in two rounds, each on fresh servers, and both
# values are shown: the machine is shared with whatever else runs on it.
# Progress goes to stderr; the tables go to stdout. About five minutes.
#
# Usage: run-suite.sh [--build-dir DIR] [--quick] [--keep]
#   --build-dir DIR  the build tree holding sentinel-logd and the tools
#                    (default $SENTINEL_BUILD_DIR, else build/release)
#   --quick          a short smoke run: one round, small counts (about
#                    half a minute; the figures are rough)
#   --keep           keep the temporary folder (stores, logs) and say where
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${SENTINEL_BUILD_DIR:-$ROOT/build/release}
QUICK=0
KEEP=0

die() { echo "run-suite: $*" >&2; exit 1; }
say() { echo "run-suite: $*" >&2; }

while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) [ $# -ge 2 ] || die "--build-dir needs a value"; BUILD_DIR=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac

LOGD=$BUILD_DIR/sentinel-logd
BENCH=$BUILD_DIR/tools/sentinel-bench/sentinel-bench
EXPORT=$BUILD_DIR/tools/sentinel-export/sentinel-export
for bin in "$LOGD" "$BENCH" "$EXPORT"; do
  [ -x "$bin" ] || die "$bin is missing: build first (make build)"
done

# The sizes of the runs: full suite, or --quick.
ROUNDS=2
if [ "$QUICK" = 1 ]; then
  ROUNDS=1
  INGEST_EVENTS=200000 SINGLE_EVENTS=30000 FULL_EVENTS=100000
  FANOUT_SECONDS=3 REPLAY_EVENTS=200000 IDLE_CONNECTIONS=500
else
  INGEST_EVENTS=2000000 SINGLE_EVENTS=300000 FULL_EVENTS=1000000
  FANOUT_SECONDS=15 REPLAY_EVENTS=2000000 IDLE_CONNECTIONS=5000
fi
RUN_TIMEOUT=120

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sentinel-bench.XXXXXX")
RESULTS=$WORK/results.jsonl
ROWS=$WORK/rows.md
: >"$RESULTS"
: >"$ROWS"
SERVER_PID=
PORT=

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    say "the server did not stop within 15 s; killing it"
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

cleanup() {
  stop_server
  if [ "$KEEP" = 1 ]; then
    say "kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Many idle connections need many descriptors, in the server and the tool.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=65536
ulimit -n "$hard" 2>/dev/null || say "cannot raise the open-file limit to $hard"

# The HTTP status of GET path on the server, or 000; bash's /dev/tcp only.
http_status() {
  local fd line status=000
  { exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || { echo 000; return; }
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" >&"$fd"
  if IFS= read -r -t 5 line <&"$fd"; then
    [[ $line =~ ^HTTP/1\.[01]\ ([0-9]{3}) ]] && status=${BASH_REMATCH[1]}
  fi
  exec {fd}>&-
  echo "$status"
}

# True when something accepts connections on 127.0.0.1:$1.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Start the server on a free port with a fresh store in $WORK/$1, sync $2.
start_server() {
  local dir=$WORK/$1 sync=$2 attempt
  mkdir -p "$dir"
  for attempt in 1 2 3 4 5; do
    PORT=$((20000 + RANDOM % 40000))
    port_busy "$PORT" && continue
    "$LOGD" --listen "127.0.0.1:$PORT" --db "$dir/sentinel.db" --sync "$sync" \
      >>"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      if [ "$(http_status /healthz)" = 200 ]; then
        say "sentinel-logd (pid $SERVER_PID, --sync $sync) on 127.0.0.1:$PORT"
        return 0
      fi
      sleep 0.1
    done
    say "the server did not start on port $PORT (attempt $attempt); see $dir/server.log"
    stop_server
  done
  die "cannot start sentinel-logd: $(tail -n 3 "$dir/server.log")"
}

# Run one scenario under a label; its JSON line goes to $RESULTS and its
# row to $ROWS. A failed run is reported and the suite goes on.
bench() {
  local label=$1 scenario=$2 log=$WORK/bench-$1.log
  local args=(--label "$label" --json-out "$RESULTS" --timeout "$RUN_TIMEOUT")
  shift 2
  if [ -n "$SERVER_PID" ]; then
    args+=(--post-url "http://127.0.0.1:$PORT/api/events" --ws-url "ws://127.0.0.1:$PORT/ws/logs"
      --pid "$SERVER_PID")
  fi
  say "$label: $scenario $*"
  if ! "$BENCH" "$scenario" "${args[@]}" "$@" >>"$ROWS" 2>"$log"; then
    say "$label failed or is incomplete: $(tail -n 2 "$log")"
  fi
}

# A numeric member of the result labelled $1, or nothing.
result() {
  local line
  line=$(grep -F -- "\"label\":\"$1\"" "$RESULTS" | tail -n 1 || true)
  [[ $line =~ \"$2\":(-?[0-9.]+([eE][-+]?[0-9]+)?) ]] && echo "${BASH_REMATCH[1]}"
  return 0
}

# Microseconds to milliseconds, or nothing.
ms() { [ -n "$1" ] && awk -v u="$1" 'BEGIN { print u / 1000 }'; return 0; }

SUMMARY=()

# Add a summary row: figure, target text, comparison (ge|le|-), target
# number, the measured values (one per round, space-separated), unit,
# decimals. The best value decides a miss: interference from other work on
# the machine only ever makes a figure worse.
row() {
  local figure=$1 target=$2 cmp=$3 goal=$4 values=$5 unit=$6 decimals=${7:-0} cell
  cell=$(awk -v vs="$values" -v d="$decimals" -v c="$cmp" -v g="$goal" '
    function group(v,   s, i, ip, fp, neg, out) {
      s = sprintf("%.*f", d, v); i = index(s, "."); ip = i ? substr(s, 1, i - 1) : s
      fp = i ? substr(s, i) : ""; neg = substr(ip, 1, 1) == "-"; if (neg) ip = substr(ip, 2)
      out = ""; while (length(ip) > 3) { out = "," substr(ip, length(ip) - 2) out
        ip = substr(ip, 1, length(ip) - 3) }
      return (neg ? "-" : "") ip out fp }
    BEGIN {
      n = split(vs, v, " "); if (n == 0) { print "(no result)"; exit }
      best = v[1]; s = group(v[1])
      for (i = 2; i <= n; i++) {
        s = s " / " group(v[i])
        if ((c == "ge" && v[i] > best) || (c == "le" && v[i] < best)) best = v[i] }
      if ((c == "ge" && best < g) || (c == "le" && best > g)) s = s " (miss)"
      print s }')
  SUMMARY+=("| $figure | $target | $cell | $unit |")
}

# ---- the machine
CORES=$(nproc)
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
[ -n "$CPU_MODEL" ] || CPU_MODEL=unknown
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -n 1)" ]; then
  COMMIT="$COMMIT (with uncommitted changes)"
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

say "work folder $WORK; build $BUILD_DIR; $ROUNDS round(s)"
bench fsync fsync --dir "$WORK" --count 1000 --seconds 5
FSYNC_P50=$(result fsync p50_us)
FSYNC_P99=$(result fsync p99_us)

# One round: every figure once, each server on a fresh store.
round() {
  local n=$1 db t0 t1 lines bytes store
  start_server "normal-$n" normal
  bench "idle.$n" idle --connections "$IDLE_CONNECTIONS"
  bench "ingest-http.$n" ingest-http --batch 1000 --producers 2 --events "$INGEST_EVENTS"
  bench "ingest-ws.$n" ingest-ws --batch 1000 --producers 2 --window 8 --events "$INGEST_EVENTS"
  bench "ingest-single.$n" ingest-http --batch 1 --producers 16 --events "$SINGLE_EVENTS"
  bench "latency.$n" fanout --subscribers 100 --rate 10000 --seconds "$FANOUT_SECONDS"
  bench "latency-2k.$n" fanout --subscribers 100 --rate 2000 --seconds "$FANOUT_SECONDS"
  bench "fanout.$n" fanout --subscribers 1000 --rate 1500 --seconds "$FANOUT_SECONDS"
  bench "replay.$n" replay --events "$REPLAY_EVENTS"
  stop_server

  # Export the stopped store (the stop checkpointed its WAL).
  db=$WORK/normal-$n/sentinel.db
  say "export.$n: sentinel-export --db $db"
  t0=$(date +%s%N)
  if "$EXPORT" --db "$db" -o "$WORK/export.jsonl" 2>"$WORK/export-$n.log"; then
    t1=$(date +%s%N)
    lines=$(wc -l <"$WORK/export.jsonl")
    bytes=$(stat -c %s "$WORK/export.jsonl")
    store=$(($(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0)))
    EXPORT_RATE[n]=$(awk -v l="$lines" -v ns=$((t1 - t0)) 'BEGIN { print l / (ns / 1e9) }')
    STORE_RATIO[n]=$(awk -v s="$store" -v j="$bytes" 'BEGIN { print s / j }')
    printf '| export (export.%s) | events=%s | %.0f | events/s | %s bytes of JSON lines in %.2f s; store file %s bytes |\n' \
      "$n" "$lines" "${EXPORT_RATE[n]}" "$bytes" \
      "$(awk -v ns=$((t1 - t0)) 'BEGIN { print ns / 1e9 }')" "$store" >>"$ROWS"
  else
    say "sentinel-export failed: $(tail -n 2 "$WORK/export-$n.log")"
  fi
  # The stores are large; the servers' logs stay (with --keep).
  rm -f "$WORK/export.jsonl" "$db" "$db-wal" "$db-shm"

  start_server "full-$n" full
  bench "ingest-full.$n" ingest-http --batch 1000 --producers 2 --events "$FULL_EVENTS"
  stop_server
  rm -f "$WORK/full-$n/sentinel.db" "$WORK/full-$n/sentinel.db-wal" "$WORK/full-$n/sentinel.db-shm"
}

EXPORT_RATE=()
STORE_RATIO=()
for n in $(seq 1 "$ROUNDS"); do
  round "$n"
done

# The values of one figure over the rounds: "$(each LABEL KEY)".
each() {
  local n out=
  for n in $(seq 1 "$ROUNDS"); do
    out+="$(result "$1.$n" "$2") "
  done
  echo "$out"
}

# Microseconds to milliseconds, for a list.
ms_each() {
  local v out=
  for v in $1; do out+="$(ms "$v") "; done
  echo "$out"
}

# ---- the report
row "ingest, batches of 1,000 over HTTP, --sync normal" "≥ 300,000" ge 300000 \
  "$(each ingest-http value)" events/s
row "ingest, batches of 1,000 over /ws/ingest, --sync normal" "≥ 300,000" ge 300000 \
  "$(each ingest-ws value)" events/s
row "ingest, batches of 1,000 over HTTP, --sync full (group commit)" "≥ 100,000" ge 100000 \
  "$(each ingest-full value)" events/s
row "ingest, one event a request, keep-alive, 16 producers" "≥ 50,000" ge 50000 \
  "$(each ingest-single value)" events/s
row "end-to-end latency p99, 100 subscribers, 10,000 events/s" "≤ 5 ms" le 5 \
  "$(ms_each "$(each latency latency_p99_us)")" ms 2
row "deliveries in that run (1,000,000/s offered)" "—" - 0 \
  "$(each latency value)" messages/s
row "end-to-end latency p99, 100 subscribers, 2,000 events/s" "—" - 0 \
  "$(ms_each "$(each latency-2k latency_p99_us)")" ms 2
row "fan-out deliveries, 1,000 subscribers (1,500,000/s offered)" "≥ 1,000,000" ge 1000000 \
  "$(each fanout value)" messages/s
row "replay to one client from the store" "≥ 750,000" ge 750000 \
  "$(each replay value)" events/s
row "server CPU per event, batches of 1,000 over HTTP, --sync normal" "≤ 4" le 4 \
  "$(each ingest-http server_us_per_unit)" "µs/event" 2
row "server CPU per request, one event a request, 16 producers" "≤ 15" le 15 \
  "$(each ingest-single server_us_per_unit)" "µs/request" 2
row "server CPU per delivery, 100 subscribers × 10,000 events/s" "≤ 1.5" le 1.5 \
  "$(each latency server_us_per_unit)" "µs/delivery" 2
row "server CPU per delivery, 100 subscribers × 2,000 events/s" "—" - 0 \
  "$(each latency-2k server_us_per_unit)" "µs/delivery" 2
row "server CPU per event, replay to one client" "≤ 0.4" le 0.4 \
  "$(each replay server_us_per_unit)" "µs/event" 3
row "memory per idle subscriber ($IDLE_CONNECTIONS connections)" "≤ 16" le 16 \
  "$(each idle value)" KiB 1
row "export to JSON lines (sentinel-export)" "≥ 1,000,000" ge 1000000 "${EXPORT_RATE[*]}" \
  events/s
row "store size / the events' JSON bytes" "≤ 1.5" le 1.5 "${STORE_RATIO[*]}" "×" 2

cat <<EOF
## sentinel-bench suite

- Machine: $CORES cores, $CPU_MODEL; load average before the suite $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)
- fsync (4 KiB write + fdatasync, on the store's disk): p50 $(ms "$FSYNC_P50") ms, p99 $(ms "$FSYNC_P99") ms
- Build: $BUILD_DIR, commit $COMMIT; server and load generator on this machine

Each figure was measured $ROUNDS time(s), each time on a fresh server and store;
the measured column lists every value, and a miss is flagged when even the
best one misses the target.

| figure | target | measured | unit |
|---|---|---:|---|
EOF
printf '%s\n' "${SUMMARY[@]}"
cat <<EOF

### Every run

| scenario | parameters | result | unit | details |
|---|---|---:|---|---|
EOF
cat "$ROWS"
