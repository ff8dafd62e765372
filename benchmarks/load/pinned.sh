#!/usr/bin/env bash
# Streamgate against nginx with the proxy on a core of its own: the proxy is pinned to CPU 0, BenchBackend and wrk to
# CPU 1, so the proxy's latency tail is not the load generator's. Alternating pairs of keep-alive JSON runs in the
# typical profile (streamgate-typical.yaml; nginx-typical.conf with one worker), each printing requests/s, wrk's
# p50 / p90 / p99, the proxy's CPU per request (user + system) and, for Streamgate, bytes allocated per request
# (jvm_gc_memory_allocated_bytes_total across the measured run, with a collection forced before and after it, outside
# the run, so that the counter covers every allocation).
#
# Needs at least 2 CPUs, nginx, wrk, curl, taskset and the JDK's jcmd. Environment: PAIRS [3], WARM [8] and DUR [10]
# seconds, STREAMGATE_JAVA [java] (on Java 24+ --sun-misc-unsafe-memory-access=allow is added, as perf.sh does),
# STREAMGATE_JAVA_OPTS, SG_CONFIG [streamgate-typical.yaml], and lib.sh's STREAMGATE_JAR, BENCH_JAR, REBUILD,
# MVN_FLAGS, KEEP_TMP. Ports 18080, 18083, 18084, 18086 and 18093 on 127.0.0.1 must be free.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../security/lib.sh"
HERE=$ROOT/benchmarks/load
PAIRS=${PAIRS:-3}; WARM=${WARM:-8}; DUR=${DUR:-10}
STREAMGATE_JAVA=${STREAMGATE_JAVA:-java}
SG_CONFIG=${SG_CONFIG:-$HERE/streamgate-typical.yaml}
JCMD=$(dirname "$(readlink -f "$(command -v "$STREAMGATE_JAVA")")")/jcmd

(($(nproc) >= 2)) || die "needs 2 CPUs"
require_tools "nginx (apt-get install nginx-light)" "wrk (apt-get install wrk)" "curl (apt-get install curl)" \
    "taskset (apt-get install util-linux)" "$JCMD (a JDK's jcmd next to STREAMGATE_JAVA)"
require_free_ports 18080 18083 18084 18086 18093
ensure_jars
if [[ ${STREAMGATE_JAVA_OPTS:-} != *sun-misc-unsafe-memory-access* ]] \
        && "$STREAMGATE_JAVA" --sun-misc-unsafe-memory-access=allow -version >/dev/null 2>&1; then
    STREAMGATE_JAVA_OPTS="${STREAMGATE_JAVA_OPTS:+$STREAMGATE_JAVA_OPTS }--sun-misc-unsafe-memory-access=allow"
fi
CLK_TCK=$(getconf CLK_TCK)
chmod a+x "$TMP" # nginx's worker runs as an unprivileged user

cpu_ticks() { # pids... -> "user system" clock ticks
    local u=0 s=0 a b p
    for p in "$@"; do read -r a b < <(awk '{print $14, $15}' "/proc/$p/stat"); u=$((u + a)); s=$((s + b)); done
    echo "$u $s"
}
allocated() { # pid -> bytes the JVM allocated so far, after a forced collection
    "$JCMD" "$1" GC.run >/dev/null; sleep 0.3
    curl -s http://127.0.0.1:18093/metrics | awk '/^jvm_gc_memory_allocated_bytes_total/ {printf "%.0f\n", $2}'
}
per_request() { awk -v d="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", d * 1e6 / hz / n}'; } # ticks requests -> µs
measure() { # label port jvm-pid-or-empty pids...
    local label=$1 port=$2 jvm=$3; shift 3
    local a0="" a1="" t0 t1 out n u0 s0 u1 s1
    taskset -c 1 wrk -t2 -c64 -d"${WARM}s" "http://127.0.0.1:$port/json" >/dev/null
    if [[ -n $jvm ]]; then a0=$(allocated "$jvm"); fi
    t0=$(cpu_ticks "$@")
    out=$(taskset -c 1 wrk -t2 -c64 -d"${DUR}s" --latency "http://127.0.0.1:$port/json")
    t1=$(cpu_ticks "$@")
    if [[ -n $jvm ]]; then a1=$(allocated "$jvm"); fi
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    read -r u0 s0 <<<"$t0"; read -r u1 s1 <<<"$t1"
    printf '%-10s rps=%s p50/p90/p99=%s cpu_us_per_req=%s (user %s, system %s)%s\n' "$label" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk '$1=="50%"||$1=="90%"||$1=="99%" {print $2}' <<<"$out" | paste -sd/)" \
        "$(per_request $((u1 + s1 - u0 - s0)) "$n")" "$(per_request $((u1 - u0)) "$n")" "$(per_request $((s1 - s0)) "$n")" \
        "${a0:+ bytes_per_req=$(awk -v a="$a0" -v b="$a1" -v n="$n" 'BEGIN {printf "%.0f", (b - a) / n}')}"
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }
run_streamgate() {
    # shellcheck disable=SC2086
    (cd "$TMP" && BENCH_TMP=$TMP exec taskset -c 0 "$STREAMGATE_JAVA" ${STREAMGATE_JAVA_OPTS:-} -jar "$STREAMGATE_JAR" \
        --config "$SG_CONFIG" >"$TMP/streamgate.log" 2>&1) &
    local pid=$!; PIDS+=("$pid")
    wait_for_port Streamgate 18083 "$pid" "$TMP/streamgate.log"
    measure streamgate 18083 "$pid" "$pid"
    stop "$pid"
}
run_nginx() {
    local dir=$TMP/nginx
    mkdir -p "$dir/logs" "$dir/tls"
    sed 's/^worker_processes .*/worker_processes 1;/' "$HERE/nginx-typical.conf" >"$dir/nginx.conf"
    [[ -f $dir/tls/cert.pem ]] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=localhost" -keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" 2>/dev/null || die "openssl: certificate"
    chmod -R a+rwX "$dir"
    taskset -c 0 nginx -c "$dir/nginx.conf" -p "$dir/" -e "$dir/error.log" -g "worker_rlimit_nofile $(ulimit -Hn);" \
        >"$TMP/nginx.log" 2>&1 &
    local pid=$!; PIDS+=("$pid")
    wait_for_port nginx 18084 "$pid" "$TMP/nginx.log"
    # shellcheck disable=SC2046
    measure nginx 18084 "" "$pid" $(pgrep -P "$pid")
    stop "$pid"
}

taskset -c 1 java -Dslf4j.internal.verbosity=ERROR -cp "$BENCH_JAR" io.streamgate.bench.BenchBackend --port 18080 \
    --threads 2 >"$TMP/backend.log" 2>&1 &
PIDS+=($!); wait_for_port BenchBackend 18080 "$!" "$TMP/backend.log"
echo "# pinned.sh $(date -u +%FT%TZ): proxy on CPU 0; BenchBackend and wrk -t2 -c64 on CPU 1; typical profile; ${WARM}s warm-up, ${DUR}s runs"
echo "# $(machine_line); Streamgate on $("$STREAMGATE_JAVA" -version 2>&1 | head -1)"
for i in $(seq 1 "$PAIRS"); do
    if ((i % 2)); then run_streamgate; run_nginx; else run_nginx; run_streamgate; fi
done
