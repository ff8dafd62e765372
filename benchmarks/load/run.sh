#!/usr/bin/env bash
# Load comparison on one machine: BenchBackend direct, through Streamgate, and through nginx (configured for
# streaming as vLLM's docs recommend). Interleaved rounds of
#   - wrk on GET /json (requests/s, p50, p99)
#   - SseLatencyProbe on GET /sse (per-event latency from backend send to client receive)
# Medians over the rounds go to benchmarks/results/<date>-baseline.md (also printed). See benchmarks/README.md.
#
# Environment knobs (defaults in brackets):
#   ROUNDS [3]  WRK_DURATION [10s]  WRK_CONNECTIONS [64]  WRK_THREADS [2]  WARMUP_WRK_DURATION [15s]
#   SSE_STREAMS [100]  SSE_EVENTS [200]  SSE_INTERVAL_MS [10]  SSE_DURATION_S [10]  SSE_WARMUP_S [3]
#   BACKEND_THREADS [2]  STREAMGATE_JAVA_OPTS [JVM defaults]  BENCH_JAVA_OPTS [JVM defaults]
#   STREAMGATE_JAR, BENCH_JAR (prebuilt jars)  MVN_FLAGS (e.g. -o)  BUILD_DIR
#   RESULTS_FILE [benchmarks/results/<date>-baseline.md]  KEEP_TMP [0] (1: keep logs in the temp dir)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

ROUNDS=${ROUNDS:-3}
WRK_DURATION=${WRK_DURATION:-10s}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
SSE_STREAMS=${SSE_STREAMS:-100}
SSE_EVENTS=${SSE_EVENTS:-200}
SSE_INTERVAL_MS=${SSE_INTERVAL_MS:-10}
SSE_DURATION_S=${SSE_DURATION_S:-10}
SSE_WARMUP_S=${SSE_WARMUP_S:-3}
# Streamgate's JIT needs ~15 s of load on 2 cores before its numbers settle; every target gets the same.
WARMUP_WRK_DURATION=${WARMUP_WRK_DURATION:-15s}
BACKEND_THREADS=${BACKEND_THREADS:-2}
# Fixed because nginx.conf and streamgate-bench.yaml name them.
BACKEND_PORT=18080
STREAMGATE_PORT=18081
NGINX_PORT=18082
TARGETS=(direct streamgate nginx)

log() { printf '[run.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- prerequisites ---------------------------------------------------------------------------------------
missing=()
command -v java >/dev/null || missing+=("java (apt-get install openjdk-17-jre-headless)")
command -v nginx >/dev/null || missing+=("nginx (apt-get install nginx-light, or nginx)")
command -v wrk >/dev/null || missing+=("wrk (apt-get install wrk)")
command -v curl >/dev/null || missing+=("curl (apt-get install curl)")
if ((${#missing[@]})); then
    die "missing tools: ${missing[*]}"
fi

STREAMGATE_JAR=${STREAMGATE_JAR:-$ROOT/proxy-server/target/streamgate.jar}
BENCH_JAR=${BENCH_JAR:-$ROOT/benchmarks/target/benchmarks.jar}
if [[ ! -f $STREAMGATE_JAR || ! -f $BENCH_JAR ]]; then
    command -v mvn >/dev/null || die "jars missing and no mvn (apt-get install maven)"
    # Build in a copy so a shared working tree (and anyone else building in it) is left alone.
    BUILD_DIR=${BUILD_DIR:-${TMPDIR:-/tmp}/streamgate-bench-build}
    log "jars missing; building in $BUILD_DIR"
    mkdir -p "$BUILD_DIR"
    if command -v rsync >/dev/null; then
        rsync -a --delete --exclude target --exclude .git "$ROOT/" "$BUILD_DIR/"
    else
        rm -rf "$BUILD_DIR" && mkdir -p "$BUILD_DIR" && (cd "$ROOT" && tar --exclude=target --exclude=.git -cf - .) | (cd "$BUILD_DIR" && tar -xf -)
    fi
    # shellcheck disable=SC2086
    (cd "$BUILD_DIR" && mvn -B -q -Dstyle.color=never ${MVN_FLAGS:-} -DskipTests package) || die "build failed"
    STREAMGATE_JAR=$BUILD_DIR/proxy-server/target/streamgate.jar
    BENCH_JAR=$BUILD_DIR/benchmarks/target/benchmarks.jar
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in $BACKEND_PORT $STREAMGATE_PORT $NGINX_PORT; do
    port_open "$port" && die "port $port on 127.0.0.1 is already in use"
done

# ---- start everything; stop it on any exit ------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/streamgate-bench.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP_TMP:-0} == 1 ]]; then log "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2206
BENCH_JAVA=(java ${BENCH_JAVA_OPTS:-} -Dslf4j.internal.verbosity=ERROR -cp "$BENCH_JAR")

wait_for_port() { # name port pid logfile
    local name=$1 port=$2 pid=$3 logfile=$4
    for _ in $(seq 300); do
        port_open "$port" && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited during start-up; its output:"; cat "$logfile" >&2; exit 1
        fi
        sleep 0.1
    done
    log "$name did not listen on $port within 30 s; its output:"; cat "$logfile" >&2; exit 1
}

"${BENCH_JAVA[@]}" io.streamgate.bench.BenchBackend \
    --port "$BACKEND_PORT" --threads "$BACKEND_THREADS" >"$TMP/backend.log" 2>&1 &
PIDS+=($!); wait_for_port BenchBackend "$BACKEND_PORT" "$!" "$TMP/backend.log"

java ${STREAMGATE_JAVA_OPTS:-} -Dlogback.configurationFile="$HERE/logback-bench.xml" \
    -jar "$STREAMGATE_JAR" --config "$HERE/streamgate-bench.yaml" >"$TMP/streamgate.log" 2>&1 &
PIDS+=($!); wait_for_port Streamgate "$STREAMGATE_PORT" "$!" "$TMP/streamgate.log"

mkdir -p "$TMP/nginx"
nginx -c "$HERE/nginx.conf" -p "$TMP/nginx/" -e "$TMP/nginx/error.log" >"$TMP/nginx.log" 2>&1 &
PIDS+=($!); wait_for_port nginx "$NGINX_PORT" "$!" "$TMP/nginx.log"

port_of() { case $1 in direct) echo $BACKEND_PORT ;; streamgate) echo $STREAMGATE_PORT ;; nginx) echo $NGINX_PORT ;; esac; }

for t in "${TARGETS[@]}"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$(port_of "$t")/json" || true)
    [[ $code == 200 ]] || log "WARNING: $t answered GET /json with HTTP '$code'; its numbers will show errors"
done

BACKEND_TRANSPORT=$(grep -o 'transport=[a-z_]*' "$TMP/backend.log" | head -1 | cut -d= -f2 || true)
STREAMGATE_TRANSPORT=$(grep -oE 'transport:? [a-z_]+' "$TMP/streamgate.log" | head -1 | awk '{print $2}' || true)

# ---- measurement helpers --------------------------------------------------------------------------------
mkdir -p "$TMP/m"
record() { echo "$3" >>"$TMP/m/$1.$2"; } # target metric value

to_us() { # "319.00us" | "1.87ms" | "2.01s" -> microseconds
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.0f", v }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.0f", v * 1000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.0f", v * 1000000 }
        else print "nan" }'
}

run_wrk() { # target duration record?
    local t=$1 out
    out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$2" --latency "http://127.0.0.1:$(port_of "$t")/json" 2>&1 || true)
    [[ $3 == record ]] || return 0
    echo "$out" >>"$TMP/wrk-$t.txt"
    local rps p50 p99 non2xx sockerr
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    sockerr=$(awk -F'[ ,]+' '/Socket errors:/ {print $4 + $6 + $8 + $10}' <<<"$out")
    record "$t" rps "${rps:-nan}"
    record "$t" p50 "$( [[ -n $p50 ]] && to_us "$p50" || echo nan)"
    record "$t" p99 "$( [[ -n $p99 ]] && to_us "$p99" || echo nan)"
    record "$t" wrk_errors "$(( ${non2xx:-0} + ${sockerr:-0} ))"
    log "  wrk  $t: ${rps:-?} req/s, p50 ${p50:-?}, p99 ${p99:-?}, errors $(( ${non2xx:-0} + ${sockerr:-0} ))"
}

run_probe() { # target duration warmup record?
    local t=$1 line
    line=$(timeout $(( $2 + $3 + 180 )) "${BENCH_JAVA[@]}" io.streamgate.bench.SseLatencyProbe \
        --url "http://127.0.0.1:$(port_of "$t")/sse?events=$SSE_EVENTS&interval_ms=$SSE_INTERVAL_MS" \
        --concurrency "$SSE_STREAMS" --duration-s "$2" --warmup-s "$3" --label "$t" 2>>"$TMP/probe-$t.err" \
        | grep '^SSE_RESULT' || true)
    [[ $4 == record ]] || return 0
    echo "${line:-SSE_RESULT label=$t failed}" >>"$TMP/probe-$t.txt"
    local key
    for key in p50_us p90_us p99_us p999_us max_us events streams errors; do
        record "$t" "sse_$key" "$(tr ' ' '\n' <<<"$line" | awk -F= -v k="$key" '$1 == k {print $2}' | grep . || echo nan)"
    done
    log "  sse  $t: ${line#SSE_RESULT }"
}

# ---- warm-up (JIT, pools), then interleaved rounds ---------------------------------------------------------
log "warm-up"
for t in "${TARGETS[@]}"; do
    run_wrk "$t" "$WARMUP_WRK_DURATION" no
    run_probe "$t" 5 0 no
done
for round in $(seq "$ROUNDS"); do
    log "round $round/$ROUNDS"
    for t in "${TARGETS[@]}"; do
        sleep 1 # let the previous run's connections and garbage settle
        run_wrk "$t" "$WRK_DURATION" record
        sleep 1
        run_probe "$t" "$SSE_DURATION_S" "$SSE_WARMUP_S" record
    done
done

# ---- report ---------------------------------------------------------------------------------------------
median() { # target metric
    local f="$TMP/m/$1.$2"
    [[ -f $f ]] || { echo nan; return; }
    grep -v nan "$f" | sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
total() { [[ -f "$TMP/m/$1.$2" ]] && awk '$1 != "nan" {s += $1} END {print s + 0}' "$TMP/m/$1.$2" || echo nan; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
diff_() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan") print "n/a"; else printf "%+d", a - b }'; }
rounds_of() { [[ -f "$TMP/m/$1.$2" ]] && paste -sd/ "$TMP/m/$1.$2" || echo n/a; }

row() { # label metric [total]
    local d s n
    if [[ ${3:-} == total ]]; then
        d=$(total direct "$2"); s=$(total streamgate "$2"); n=$(total nginx "$2")
        echo "| $1 | $d | $s | $n | | | |"
    else
        d=$(median direct "$2"); s=$(median streamgate "$2"); n=$(median nginx "$2")
        echo "| $1 | $d | $s | $n | $(ratio "$s" "$n") | $(ratio "$s" "$d") | $(ratio "$n" "$d") |"
    fi
}
added_row() { # label metric
    local d s n
    d=$(median direct "$2"); s=$(median streamgate "$2"); n=$(median nginx "$2")
    echo "| $1 | 0 | $(diff_ "$s" "$d") | $(diff_ "$n" "$d") | | | |"
}

DATE=$(date +%Y-%m-%d)
RESULTS_FILE=${RESULTS_FILE:-$ROOT/benchmarks/results/$DATE-baseline.md}
mkdir -p "$(dirname "$RESULTS_FILE")"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "none (no commit yet)")
[[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -1) ]] && COMMIT="$COMMIT (working tree modified)"
HEADER='| | direct | streamgate | nginx | streamgate/nginx | streamgate/direct | nginx/direct |
|---|---:|---:|---:|---:|---:|---:|'

{
    echo "# Load baseline: Streamgate vs nginx vs direct ($DATE)"
    echo
    echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, Linux $(uname -r)"
    echo "- Java: $(java -version 2>&1 | head -1); nginx: $(nginx -v 2>&1 | sed 's/.*version: //'); wrk: $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
    echo "- Streamgate commit: $COMMIT; transport: ${STREAMGATE_TRANSPORT:-unknown}; BenchBackend: ${BACKEND_TRANSPORT:-unknown}, $BACKEND_THREADS threads"
    echo "- JVM options: Streamgate '${STREAMGATE_JAVA_OPTS:-defaults}', BenchBackend/probe '${BENCH_JAVA_OPTS:-defaults}'"
    echo "- nginx: worker_processes auto, upstream keepalive 64, proxy_buffering off (benchmarks/load/nginx.conf)"
    echo "- Access logs off in both proxies. Everything (backend, proxy, load generator) shares the same $(nproc) cores."
    echo "- Load average before the run: $LOAD_BEFORE (anything above ~0.5 means other work was competing for the CPUs)."
    echo "- Warm-up: wrk $WARMUP_WRK_DURATION + 5 s of SSE per target; then $ROUNDS interleaved rounds (direct, streamgate, nginx); tables show medians."
    echo
    echo "## Request/response: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION --latency, GET /json (237 B body)"
    echo
    echo "$HEADER"
    row "requests/s (higher is better)" rps
    row "latency p50 (µs)" p50
    row "latency p99 (µs)" p99
    row "errors, all rounds (non-2xx + socket)" wrk_errors total
    echo
    echo "## SSE: $SSE_STREAMS concurrent streams, $SSE_EVENTS events every $SSE_INTERVAL_MS ms each, ${SSE_DURATION_S} s measured after ${SSE_WARMUP_S} s"
    echo
    echo "Latency of each event from the backend's write to the probe's read (µs)."
    echo
    echo "$HEADER"
    row "p50" sse_p50_us
    row "p90" sse_p90_us
    row "p99" sse_p99_us
    row "p99.9" sse_p999_us
    row "max" sse_max_us
    added_row "added p50 vs direct" sse_p50_us
    added_row "added p99 vs direct" sse_p99_us
    row "events measured" sse_events
    row "streams completed" sse_streams
    row "stream errors, all rounds" sse_errors total
    echo
    echo "## Per-round values"
    echo
    echo "| metric | direct | streamgate | nginx |"
    echo "|---|---|---|---|"
    for metric in rps p50 p99 sse_p50_us sse_p99_us sse_max_us; do
        echo "| $metric | $(rounds_of direct $metric) | $(rounds_of streamgate $metric) | $(rounds_of nginx $metric) |"
    done
} >"$RESULTS_FILE"

cat "$RESULTS_FILE"
log "results written to $RESULTS_FILE"
