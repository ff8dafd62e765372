#!/usr/bin/env bash
# Streamgate against nginx with the proxy on a core of its own: the proxy is pinned to CPU 0, BenchBackend and wrk to
# CPU 1, so the proxy's latency tail is not the load generator's. Alternating pairs of keep-alive JSON runs in the
# typical profile (streamgate-typical.yaml; nginx-typical.conf with one worker), each printing requests/s, wrk's
# p50 / p90 / p99, the proxy's CPU per request (user + system) and, for Streamgate, bytes allocated per request
# (jvm_gc_memory_allocated_bytes_total across the measured run, with a collection forced before and after it, outside
# the run, so that the counter covers every allocation).
#
# Needs a machine with at least 2 CPUs, and nginx, wrk, curl and the JDK's jcmd. Build first (mvn -B -q package
# -DskipTests). Environment: PAIRS [3], WARM [8] and DUR [10] seconds, STREAMGATE_JAVA [java], STREAMGATE_JAVA_OPTS,
# STREAMGATE_JAR, BENCH_JAR, SG_CONFIG [streamgate-typical.yaml]. Ports 18080, 18083, 18084, 18093.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PAIRS=${PAIRS:-3}; WARM=${WARM:-8}; DUR=${DUR:-10}
JAVA=${STREAMGATE_JAVA:-java}
JCMD=$(dirname "$(readlink -f "$(command -v "$JAVA")")")/jcmd
SG_JAR=${STREAMGATE_JAR:-$ROOT/proxy-server/target/streamgate.jar}
BENCH_JAR=${BENCH_JAR:-$ROOT/benchmarks/target/benchmarks.jar}
SG_CONFIG=${SG_CONFIG:-$HERE/streamgate-typical.yaml}
[[ $(nproc) -ge 2 ]] || { echo "pinned.sh: needs 2 CPUs" >&2; exit 1; }
for tool in nginx wrk curl taskset "$JCMD"; do command -v "$tool" >/dev/null || { echo "pinned.sh: $tool not found" >&2; exit 1; }; done

TMP=$(mktemp -d /tmp/streamgate-pinned.XXXXXX)
export BENCH_TMP=$TMP
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [[ -f $TMP/nginx.pid ]] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null; true; }
trap cleanup EXIT

wait_for() { # url
    for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "pinned.sh: nothing answers $1" >&2; exit 1
}
cpu_ticks() { # pids... -> "user system" clock ticks
    local u=0 s=0 a b
    for p in "$@"; do read -r a b < <(awk '{print $14, $15}' "/proc/$p/stat"); u=$((u + a)); s=$((s + b)); done
    echo "$u $s"
}
allocated() { # pid -> bytes allocated so far, after a forced collection
    "$JCMD" "$1" GC.run >/dev/null; sleep 0.3
    curl -s http://127.0.0.1:18093/metrics | awk '/^jvm_gc_memory_allocated_bytes_total/ {printf "%.0f\n", $2}'
}
measure() { # label port alloc-pid-or-empty pids...
    local label=$1 port=$2 jvm=$3; shift 3
    taskset -c 1 wrk -t2 -c64 -d"${WARM}s" "http://127.0.0.1:$port/json" >/dev/null
    local a0="" a1="" t0 t1 out
    [[ -n $jvm ]] && a0=$(allocated "$jvm")
    t0=$(cpu_ticks "$@")
    out=$(taskset -c 1 wrk -t2 -c64 -d"${DUR}s" --latency "http://127.0.0.1:$port/json")
    t1=$(cpu_ticks "$@")
    [[ -n $jvm ]] && a1=$(allocated "$jvm")
    local n hz u0 s0 u1 s1
    n=$(awk '/requests in/ {print $1}' <<<"$out"); hz=$(getconf CLK_TCK)
    read -r u0 s0 <<<"$t0"; read -r u1 s1 <<<"$t1"
    printf '%-10s rps=%s p50/p90/p99=%s cpu_us_per_req=%s (user %s, system %s)%s\n' "$label" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk '$1=="50%"||$1=="90%"||$1=="99%" {printf "%s ", $2}' <<<"$out" | sed 's/ $//; s/ /\//g')" \
        "$(awk -v d=$((u1 + s1 - u0 - s0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.2f", d * 1e6 / hz / n}')" \
        "$(awk -v d=$((u1 - u0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.2f", d * 1e6 / hz / n}')" \
        "$(awk -v d=$((s1 - s0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.2f", d * 1e6 / hz / n}')" \
        "${a0:+ bytes_per_req=$(awk -v a="$a0" -v b="$a1" -v n="$n" 'BEGIN {printf "%.0f", (b - a) / n}')}"
}
run_streamgate() {
    taskset -c 0 "$JAVA" ${STREAMGATE_JAVA_OPTS:-} -jar "$SG_JAR" --config "$SG_CONFIG" >"$TMP/streamgate.log" 2>&1 &
    local pid=$!; PIDS+=("$pid")
    wait_for http://127.0.0.1:18083/json
    measure streamgate 18083 "$pid" "$pid"
    kill "$pid"; wait "$pid" 2>/dev/null || true
}
run_nginx() {
    sed 's/^worker_processes .*/worker_processes 1;/' "$HERE/nginx-typical.conf" >"$TMP/nginx.conf"
    mkdir -p "$TMP/logs" "$TMP/tls"
    [[ -f $TMP/tls/cert.pem ]] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=localhost" -keyout "$TMP/tls/key.pem" -out "$TMP/tls/cert.pem" 2>/dev/null
    taskset -c 0 nginx -c "$TMP/nginx.conf" -p "$TMP/" -e "$TMP/nginx-error.log" -g "worker_rlimit_nofile 19000;" &
    wait_for http://127.0.0.1:18084/json
    local master; master=$(cat "$TMP/nginx.pid")
    # shellcheck disable=SC2046
    measure nginx 18084 "" "$master" $(pgrep -P "$master")
    kill "$master"; sleep 1
}

taskset -c 1 java -Dslf4j.internal.verbosity=ERROR -cp "$BENCH_JAR" io.streamgate.bench.BenchBackend --port 18080 \
    --threads 2 >"$TMP/backend.log" 2>&1 &
PIDS+=($!)
wait_for http://127.0.0.1:18080/json
echo "# pinned.sh $(date -u +%FT%TZ): proxy on CPU 0; BenchBackend and wrk -t2 -c64 on CPU 1; typical profile; ${WARM}s warm-up, ${DUR}s runs"
for i in $(seq 1 "$PAIRS"); do
    if ((i % 2)); then run_streamgate; run_nginx; else run_nginx; run_streamgate; fi
done
