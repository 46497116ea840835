#!/usr/bin/env bash
# sentinel-logd beside its peers on this machine (`make bench-peers`).
#
# Starts, each on a free loopback port with its own temporary folder:
# sentinel-logd (--sync normal), nats-server with JetStream in files, and
# nginx with nchan (in memory, not durable; a configuration of its own).
# Then runs the same scenarios against each, one server at a time, in one
# run (sentinel-bench; the same event bytes everywhere):
#   - batch ingest: sentinel-logd's batches of 1,000 over HTTP against
#     JetStream's asynchronous acknowledged publish (nats-ingest);
#   - single-event ingest: one event a POST, 16 keep-alive producers,
#     against nchan's publisher location;
#   - replay: from the store against JetStream's ordered consumer;
#   - fan-out: 100 WebSocket subscribers, 1,000 events/s posted one a
#     request, against nchan's WebSocket subscribers.
# Every row gives the server's CPU per unit of work (from /proc); the
# summary table gives the ratios against the targets. Each pair is measured
# --rounds times (default 2), alternating the servers, and the best round of
# each is compared: interference from other work only ever makes a figure
# worse. Progress goes to stderr, the tables to stdout. About four minutes.
#
# Usage: peers-suite.sh [--build-dir DIR] [--rounds N] [--quick] [--keep]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${SENTINEL_BUILD_DIR:-$ROOT/build/release}
ROUNDS=2
QUICK=0
KEEP=0

die() { echo "peers-suite: $*" >&2; exit 1; }
say() { echo "peers-suite: $*" >&2; }

while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) [ $# -ge 2 ] || die "--build-dir needs a value"; BUILD_DIR=$2; shift 2 ;;
    --rounds) [ $# -ge 2 ] || die "--rounds needs a value"; ROUNDS=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds: expected a whole number"

LOGD=$BUILD_DIR/sentinel-logd
BENCH=$BUILD_DIR/tools/sentinel-bench/sentinel-bench
for bin in "$LOGD" "$BENCH"; do
  [ -x "$bin" ] || die "$bin is missing: build first (make build)"
done
NATS_SERVER=$(command -v nats-server || true)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
NCHAN_MODULE=/usr/lib/nginx/modules/ngx_nchan_module.so
[ -n "$NATS_SERVER" ] || die "nats-server is missing (tools/setup/deps.sh bench)"
[ -x "$NGINX" ] || die "nginx is missing (tools/setup/deps.sh bench)"
[ -f "$NCHAN_MODULE" ] || die "$NCHAN_MODULE is missing (tools/setup/deps.sh bench)"

if [ "$QUICK" = 1 ]; then
  ROUNDS=1 BATCH_EVENTS=200000 SINGLE_EVENTS=30000 REPLAY_EVENTS=200000 FANOUT_SECONDS=3
else
  BATCH_EVENTS=1000000 SINGLE_EVENTS=200000 REPLAY_EVENTS=1000000 FANOUT_SECONDS=10
fi
RUN_TIMEOUT=180

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sentinel-peers.XXXXXX")
RESULTS=$WORK/results.jsonl
ROWS=$WORK/rows.md
: >"$RESULTS"
: >"$ROWS"
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=65536
ulimit -n "$hard" 2>/dev/null || say "cannot raise the open-file limit to $hard"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nothing listens on.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    port_busy "$p" || { echo "$p"; return 0; }
  done
  die "no free port found"
}

# Wait until 127.0.0.1:$1 accepts connections while pid $2 lives.
wait_port() {
  for _ in $(seq 1 150); do
    kill -0 "$2" 2>/dev/null || return 1
    port_busy "$1" && return 0
    sleep 0.1
  done
  return 1
}

# ---- the servers

start_sentinel() {
  SENTINEL_PORT=$(free_port)
  mkdir -p "$WORK/sentinel"
  "$LOGD" --listen "127.0.0.1:$SENTINEL_PORT" --db "$WORK/sentinel/sentinel.db" --sync normal \
    >>"$WORK/sentinel/server.log" 2>&1 &
  SENTINEL_PID=$!
  PIDS+=("$SENTINEL_PID")
  wait_port "$SENTINEL_PORT" "$SENTINEL_PID" ||
    die "sentinel-logd did not start: $(tail -n 3 "$WORK/sentinel/server.log")"
  say "sentinel-logd (pid $SENTINEL_PID) on 127.0.0.1:$SENTINEL_PORT"
}

start_nats() {
  NATS_PORT=$(free_port)
  mkdir -p "$WORK/nats"
  "$NATS_SERVER" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$WORK/nats/store" \
    >>"$WORK/nats/server.log" 2>&1 &
  NATS_PID=$!
  PIDS+=("$NATS_PID")
  wait_port "$NATS_PORT" "$NATS_PID" ||
    die "nats-server did not start: $(tail -n 3 "$WORK/nats/server.log")"
  say "nats-server $("$NATS_SERVER" --version | awk '{ print $NF }') (pid $NATS_PID, JetStream in files) on 127.0.0.1:$NATS_PORT"
}

# nginx with one worker, so that its CPU is one process's; as root the
# worker stays root to use the temporary folder.
start_nchan() {
  local dir=$WORK/nginx i
  NCHAN_PORT=$(free_port)
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
load_module $NCHAN_MODULE;
$([ "$(id -u)" = 0 ] && echo "user root;")
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$NCHAN_PORT;
    location = /pub { nchan_publisher; nchan_channel_id bench; }
    location = /sub { nchan_subscriber websocket; nchan_channel_id bench; }
  }
}
EOF
  "$NGINX" -p "$dir" -c "$dir/nginx.conf" >>"$dir/server.log" 2>&1 &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  wait_port "$NCHAN_PORT" "$NGINX_PID" ||
    die "nginx did not start: $(tail -n 3 "$dir/error.log" "$dir/server.log" 2>/dev/null)"
  for i in $(seq 1 50); do
    NCHAN_PID=$(pgrep -P "$NGINX_PID" | head -n 1 || true)
    [ -n "$NCHAN_PID" ] && break
    sleep 0.1
  done
  [ -n "$NCHAN_PID" ] || die "no nginx worker process"
  say "nginx $("$NGINX" -v 2>&1 | sed 's|.*/||') with nchan (worker pid $NCHAN_PID) on 127.0.0.1:$NCHAN_PORT"
}

# ---- the runs

# bench LABEL SCENARIO ARGS...: one run; its JSON goes to $RESULTS, its row to $ROWS.
bench() {
  local label=$1 scenario=$2 log=$WORK/bench-$1.log
  shift 2
  say "$label: $scenario $*"
  if ! "$BENCH" "$scenario" --label "$label" --json-out "$RESULTS" --timeout "$RUN_TIMEOUT" "$@" \
    >>"$ROWS" 2>"$log"; then
    say "$label failed or is incomplete: $(tail -n 2 "$log")"
  fi
}

sentinel_urls() {
  echo --post-url "http://127.0.0.1:$SENTINEL_PORT/api/events" \
    --ws-url "ws://127.0.0.1:$SENTINEL_PORT/ws/logs" --pid "$SENTINEL_PID"
}

nchan_urls() {
  echo --post-url "http://127.0.0.1:$NCHAN_PORT/pub" --ws-url "ws://127.0.0.1:$NCHAN_PORT/sub" \
    --pid "$NCHAN_PID" --any-2xx
}

nats_args() {
  echo --nats-url "nats://127.0.0.1:$NATS_PORT" --pid "$NATS_PID"
}

# A numeric member of the result labelled $1, or nothing.
result() {
  local line
  line=$(grep -F -- "\"label\":\"$1\"" "$RESULTS" | tail -n 1 || true)
  [[ $line =~ \"$2\":(-?[0-9.]+([eE][-+]?[0-9]+)?) ]] && echo "${BASH_REMATCH[1]}"
  return 0
}

# The best value of KEY over the rounds of LABEL: the highest (max) or lowest (min).
best() {
  local label=$1 key=$2 how=$3 n v out=
  for n in $(seq 1 "$ROUNDS"); do
    v=$(result "$label.$n" "$key")
    [ -n "$v" ] && out+="$v "
  done
  [ -n "$out" ] || return 0
  awk -v vs="$out" -v how="$how" 'BEGIN { n = split(vs, v, " "); b = v[1]
    for (i = 2; i <= n; i++) if ((how == "max" && v[i] > b) || (how == "min" && v[i] < b)) b = v[i]
    print b }'
}

# The server CPU per unit of the round of LABEL with the best KEY.
cpu_of_best() {
  local label=$1 key=$2 how=$3 n v bestv
  bestv=$(best "$label" "$key" "$how")
  for n in $(seq 1 "$ROUNDS"); do
    v=$(result "$label.$n" "$key")
    if [ -n "$v" ] && [ "$v" = "$bestv" ]; then
      result "$label.$n" server_us_per_unit
      return 0
    fi
  done
}

start_sentinel
start_nats
start_nchan

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for n in $(seq 1 "$ROUNDS"); do
  say "round $n of $ROUNDS"
  # shellcheck disable=SC2046
  bench "ours-batch.$n" ingest-http --batch 1000 --producers 2 --events "$BATCH_EVENTS" $(sentinel_urls)
  # shellcheck disable=SC2046
  bench "nats-batch.$n" nats-ingest --events "$BATCH_EVENTS" $(nats_args)
  # shellcheck disable=SC2046
  bench "ours-single.$n" ingest-http --batch 1 --producers 16 --events "$SINGLE_EVENTS" $(sentinel_urls)
  # shellcheck disable=SC2046
  bench "nchan-single.$n" ingest-http --batch 1 --producers 16 --events "$SINGLE_EVENTS" $(nchan_urls)
  # shellcheck disable=SC2046
  bench "ours-replay.$n" replay --events "$REPLAY_EVENTS" $(sentinel_urls)
  # shellcheck disable=SC2046
  bench "nats-replay.$n" nats-replay --events "$REPLAY_EVENTS" $(nats_args)
  # shellcheck disable=SC2046
  bench "ours-fanout.$n" fanout --subscribers 100 --rate 1000 --seconds "$FANOUT_SECONDS" \
    --max-batch 1 $(sentinel_urls)
  # shellcheck disable=SC2046
  bench "nchan-fanout.$n" fanout --subscribers 100 --rate 1000 --seconds "$FANOUT_SECONDS" \
    --max-batch 1 $(nchan_urls)
done

SUMMARY=()
# pair FIGURE OURS PEER PEER_NAME KEY UNIT HOW TARGET_TEXT TARGET_RATIO CMP
#   HOW: max (more is better) or min; the ratio is ours / peer's; CMP ge or le.
pair() {
  local figure=$1 ours=$2 peer=$3 peer_name=$4 key=$5 unit=$6 how=$7 target=$8 goal=$9 cmp=${10}
  local a b ca cb cell
  a=$(best "$ours" "$key" "$how")
  b=$(best "$peer" "$key" "$how")
  ca=$(cpu_of_best "$ours" "$key" "$how")
  cb=$(cpu_of_best "$peer" "$key" "$how")
  cell=$(awk -v a="$a" -v b="$b" -v ca="$ca" -v cb="$cb" -v g="$goal" -v c="$cmp" \
    -v u="$unit" -v p="$peer_name" -v f="$figure" -v t="$target" '
    function num(v, d,   s, i, ip, fp, out) {
      if (v == "") return "—"
      s = sprintf("%.*f", d, v); i = index(s, "."); ip = i ? substr(s, 1, i - 1) : s
      fp = i ? substr(s, i) : ""; out = ""
      while (length(ip) > 3) { out = "," substr(ip, length(ip) - 2) out; ip = substr(ip, 1, length(ip) - 3) }
      return ip out fp }
    BEGIN {
      d = (u == "ms") ? 2 : 0
      r = (a != "" && b != "" && b > 0) ? a / b : ""
      miss = (r == "") || (c == "ge" && r < g) || (c == "le" && r > g)
      printf "| %s | %s | %s | %s | %s %s | %s / %s |\n", f, num(a, d) " " u, p ": " num(b, d) " " u,
        (r == "" ? "—" : sprintf("%.2f×", r)), t, (miss ? "(miss)" : "(met)"),
        (ca == "" ? "—" : sprintf("%.2f µs", ca)), (cb == "" ? "—" : sprintf("%.2f µs", cb)) }')
  SUMMARY+=("$cell")
}

# Microseconds to milliseconds in the JSON: the fan-out rows compare p99.
for n in $(seq 1 "$ROUNDS"); do
  for who in ours nchan; do
    v=$(result "$who-fanout.$n" latency_p99_us)
    [ -n "$v" ] && printf '{"label":"%s-fanout-ms.%s","p99_ms":%s,"server_us_per_unit":%s}\n' \
      "$who" "$n" "$(awk -v u="$v" 'BEGIN { print u / 1000 }')" \
      "$(result "$who-fanout.$n" server_us_per_unit || true)" >>"$RESULTS"
  done
done
sed -i 's/"server_us_per_unit":}/"server_us_per_unit":null}/' "$RESULTS"

pair "ingest, batches of 1,000 (JetStream: async acked publish)" ours-batch nats-batch JetStream \
  value events/s max "≥ 2×" 2 ge
pair "ingest, one event a request, 16 producers" ours-single nchan-single nchan \
  value events/s max "≥ 0.6×" 0.6 ge
pair "replay to one client (JetStream: ordered consumer)" ours-replay nats-replay JetStream \
  value events/s max "≥ 2×" 2 ge
pair "fan-out latency p99, 100 subscribers × 1,000 events/s" ours-fanout-ms nchan-fanout-ms nchan \
  p99_ms ms min "≤ 1×" 1 le

CORES=$(nproc)
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -n 1)" ]; then
  COMMIT="$COMMIT (with uncommitted changes)"
fi

cat <<EOF
## sentinel-logd beside its peers

- Machine: $CORES cores, ${CPU_MODEL:-unknown}; load average before $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%d)
- sentinel-logd: build $BUILD_DIR, commit $COMMIT, --sync normal
- Peers: nats-server $("$NATS_SERVER" --version | awk '{ print $NF }') (JetStream, file storage, one server); nginx $("$NGINX" -v 2>&1 | sed 's|.*/||') with nchan $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo '?') (in memory, one worker)
- Best of $ROUNDS round(s) each, the servers taking turns; CPU is the server's, per unit (event, request or delivery), in the round shown

| figure | sentinel-logd | peer | ratio | target | server CPU per unit (ours / peer) |
|---|---:|---:|---:|---|---|
EOF
printf '%s\n' "${SUMMARY[@]}"
cat <<EOF

### Every run

| scenario | parameters | result | unit | details |
|---|---|---:|---|---|
EOF
cat "$ROWS"
