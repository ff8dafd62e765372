#!/usr/bin/env bash
# Streamgate against nginx with the proxy on a core of its own: the proxy is pinned to CPU 0; BenchBackend and the
# load generator to CPU 1, so the proxy's latency tail is not the load generator's. Both proxies (Streamgate with the
# typical profile, streamgate-typical.yaml; nginx-typical.conf with one worker) start once and stay up; Streamgate is
# warmed up first (the JIT shares its core), then alternating pairs of measured runs:
#   LOAD=json  keep-alive JSON, wrk -t2 -c64: requests/s, wrk's p50 / p90 / p99, the proxy's CPU per request (user,
#              system), CPU 1's busy time per request (backend, wrk and the kernel's work there: what the proxy costs
#              the load side), TCP segments sent per request (the machine's) and, for Streamgate, bytes allocated per
#              request (jvm_gc_memory_allocated_bytes_total across the run, with a collection forced before and after
#              it, outside the run, so that the counter covers every allocation);
#   LOAD=sse   SseLatencyProbe, SSE_STREAMS [100] streams of SSE_EVENTS [200] events every SSE_INTERVAL_MS [10] ms:
#              per-event latency p50 / p90 / p99 / p99.9, also for the backend reached directly before each pair, and
#              the proxy's CPU per event (warm-up included in both the CPU and the event count); with RESIDENCE
#              [auto] (relay-latency.bt: root and bpftrace; 1 requires it, 0 skips it) also how long the proxy held
#              each event over the measured window, timed in the kernel: p50 / p99 from arrival to write, and split at
#              the kernel's receive, as perf.sh reports it.
#
# Needs at least 2 CPUs, nginx, wrk, curl, taskset and the JDK's jcmd. Environment: PAIRS [3], SG_WARM [60] seconds
# of Streamgate warm-up, WARM [3] seconds of load before each measured run of DUR [10] seconds, STREAMGATE_JAVA
# [java] (on Java 24+ --sun-misc-unsafe-memory-access=allow is added, as perf.sh does), STREAMGATE_JAVA_OPTS,
# SG_CONFIG [streamgate-typical.yaml], and lib.sh's STREAMGATE_JAR, BENCH_JAR, REBUILD, MVN_FLAGS, KEEP_TMP. Ports
# 18080, 18083, 18084, 18086 and 18093 on 127.0.0.1 must be free.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../security/lib.sh"
HERE=$ROOT/benchmarks/load
PAIRS=${PAIRS:-3}; WARM=${WARM:-3}; SG_WARM=${SG_WARM:-60}; DUR=${DUR:-10}; LOAD=${LOAD:-json}
SSE_STREAMS=${SSE_STREAMS:-100}; SSE_EVENTS=${SSE_EVENTS:-200}; SSE_INTERVAL_MS=${SSE_INTERVAL_MS:-10}
RESIDENCE=${RESIDENCE:-auto}
[[ $LOAD == json || $LOAD == sse ]] || die "LOAD must be json or sse"
STREAMGATE_JAVA=${STREAMGATE_JAVA:-java}
SG_CONFIG=${SG_CONFIG:-$HERE/streamgate-typical.yaml}
JCMD=$(jdk_tool jcmd)

(($(nproc) >= 2)) || die "needs 2 CPUs"
require_tools "nginx (apt-get install nginx-light)" "wrk (apt-get install wrk)" "curl (apt-get install curl)" \
    "taskset (apt-get install util-linux)" "$JCMD (a JDK's jcmd next to STREAMGATE_JAVA)"
require_free_ports 18080 18083 18084 18086 18093
ensure_jars
allow_netty_unsafe
RESIDENCE_ON=
if [[ $LOAD == sse && $RESIDENCE != 0 ]]; then
    if residence_available; then
        RESIDENCE_ON=1
    elif [[ $RESIDENCE == 1 ]]; then
        die "RESIDENCE=1 needs root and a working bpftrace (apt-get install bpftrace) with the sock tracepoints"
    fi
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
cpu1_busy() { awk '$1=="cpu1" {print $2+$3+$4+$7+$8}' /proc/stat; } # CPU 1's user+nice+system+irq+softirq ticks
out_segs() { awk '/^Tcp:/ {n++; if (n == 2) print $12}' /proc/net/snmp; }
per_request() { awk -v d="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", d * 1e6 / hz / n}'; } # ticks requests -> µs
measure() { # label port jvm-pid-or-empty pids...
    local label=$1 port=$2 jvm=$3; shift 3
    local a0="" a1="" t0 t1 out n u0 s0 u1 s1
    taskset -c 1 wrk -t2 -c64 -d"${WARM}s" "http://127.0.0.1:$port/json" >/dev/null
    if [[ -n $jvm ]]; then a0=$(allocated "$jvm"); fi
    t0=$(cpu_ticks "$@"); c0=$(cpu1_busy); g0=$(out_segs)
    out=$(taskset -c 1 wrk -t2 -c64 -d"${DUR}s" --latency "http://127.0.0.1:$port/json")
    t1=$(cpu_ticks "$@"); c1=$(cpu1_busy); g1=$(out_segs)
    if [[ -n $jvm ]]; then a1=$(allocated "$jvm"); fi
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    read -r u0 s0 <<<"$t0"; read -r u1 s1 <<<"$t1"
    printf '%-10s rps=%s p50/p90/p99=%s cpu_us_per_req=%s (user %s, system %s) cpu1_us_per_req=%s segs_per_req=%s%s\n' \
        "$label" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk '$1=="50%"||$1=="90%"||$1=="99%" {print $2}' <<<"$out" | paste -sd/)" \
        "$(per_request $((u1 + s1 - u0 - s0)) "$n")" "$(per_request $((u1 - u0)) "$n")" "$(per_request $((s1 - s0)) "$n")" \
        "$(per_request $((c1 - c0)) "$n")" \
        "$(awk -v a="$g0" -v b="$g1" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / n}')" \
        "${a0:+ bytes_per_req=$(awk -v a="$a0" -v b="$a1" -v n="$n" 'BEGIN {printf "%.0f", (b - a) / n}')}"
}
sse_probe() { # port warm-up-seconds duration-seconds -> the probe's SSE_RESULT line
    taskset -c 1 java -Dslf4j.internal.verbosity=ERROR -cp "$BENCH_JAR" io.streamgate.bench.SseLatencyProbe \
        --url "http://127.0.0.1:$1/sse?events=$SSE_EVENTS&interval_ms=$SSE_INTERVAL_MS" \
        --concurrency "$SSE_STREAMS" --warmup-s "$2" --duration-s "$3" --label pinned 2>>"$TMP/probe.err" \
        | grep '^SSE_RESULT' || echo "SSE_RESULT failed"
}
measure_sse() { # label port trace-pid pids... (no pids: the backend reached directly; trace-pid 0: nginx by name)
    local label=$1 port=$2 trace_pid=$3; shift 3
    local t0 t1 line u0 s0 u1 s1 events cpu="" k tracer="" trace_out held=""
    if [[ -n $RESIDENCE_ON && -n $trace_pid ]]; then
        # Over the probe's measured window; bpftrace's own process on the load side's CPU.
        trace_out=$TMP/residence-$label-$(date +%s).txt
        (sleep "$WARM"; timeout -s INT -k 20 "$DUR" taskset -c 1 bpftrace "$HERE/relay-latency.bt" "$trace_pid" "$port" 18080 \
            >"$trace_out" 2>>"$TMP/bpftrace.err") &
        tracer=$!
    fi
    t0=$(cpu_ticks "$@")
    line=$(sse_probe "$port" "$WARM" "$DUR")
    t1=$(cpu_ticks "$@")
    if [[ -n $tracer ]]; then
        wait "$tracer" || true
        held=" held p50/p99=$(bucket_quantile "$trace_out" arrival_to_sent 50)/$(bucket_quantile "$trace_out" arrival_to_sent 99) us"
        held+=" (to receive $(bucket_quantile "$trace_out" arrival_to_read 50)/$(bucket_quantile "$trace_out" arrival_to_read 99),"
        held+=" receive to write $(bucket_quantile "$trace_out" read_to_sent 50)/$(bucket_quantile "$trace_out" read_to_sent 99))"
    fi
    if (($#)); then
        read -r u0 s0 <<<"$t0"; read -r u1 s1 <<<"$t1"
        events=$(grep -o 'events_total=[0-9]*' <<<"$line" | cut -d= -f2)
        cpu=" cpu_us_per_event=$(per_request $((u1 + s1 - u0 - s0)) "${events:-1}")"
        cpu+=" (user $(per_request $((u1 - u0)) "${events:-1}"), system $(per_request $((s1 - s0)) "${events:-1}"))"
    fi
    printf '%-10s event latency p50/p90/p99/p99.9=%s us%s%s\n' "$label" \
        "$(for k in p50_us p90_us p99_us p999_us; do grep -o "$k=[0-9]*" <<<"$line" | cut -d= -f2; done | paste -sd/)" \
        "$cpu" "$held"
}
run_streamgate() {
    if [[ $LOAD == json ]]; then measure streamgate 18083 "$SG_PID" "$SG_PID"
    else measure_sse streamgate 18083 "$SG_PID" "$SG_PID"; fi
}
run_nginx() {
    if [[ $LOAD == json ]]; then measure nginx 18084 "" "${NGINX_PIDS[@]}"
    else measure_sse nginx 18084 0 "${NGINX_PIDS[@]}"; fi
}
start_streamgate() { # -> sets SG_PID
    # shellcheck disable=SC2086
    (cd "$TMP" && BENCH_TMP=$TMP exec taskset -c 0 "$STREAMGATE_JAVA" ${STREAMGATE_JAVA_OPTS:-} -jar "$STREAMGATE_JAR" \
        --config "$SG_CONFIG" >"$TMP/streamgate.log" 2>&1) &
    SG_PID=$!; PIDS+=("$SG_PID")
    wait_for_port Streamgate 18083 "$SG_PID" "$TMP/streamgate.log"
}
start_nginx() { # -> sets NGINX_PIDS (master and worker)
    local dir=$TMP/nginx pid
    mkdir -p "$dir/logs" "$dir/tls"
    sed 's/^worker_processes .*/worker_processes 1;/' "$HERE/nginx-typical.conf" >"$dir/nginx.conf"
    [[ -f $dir/tls/cert.pem ]] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=localhost" -keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" 2>/dev/null || die "openssl: certificate"
    chmod -R a+rwX "$dir"
    taskset -c 0 nginx -c "$dir/nginx.conf" -p "$dir/" -e "$dir/error.log" -g "worker_rlimit_nofile $(ulimit -Hn);" \
        >"$TMP/nginx.log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    wait_for_port nginx 18084 "$pid" "$TMP/nginx.log"
    # shellcheck disable=SC2207
    NGINX_PIDS=("$pid" $(pgrep -P "$pid"))
}

taskset -c 1 java -Dslf4j.internal.verbosity=ERROR -cp "$BENCH_JAR" io.streamgate.bench.BenchBackend --port 18080 \
    --threads 2 >"$TMP/backend.log" 2>&1 &
PIDS+=($!); wait_for_port BenchBackend 18080 "$!" "$TMP/backend.log"
echo "# pinned.sh $(date -u +%FT%TZ), LOAD=$LOAD: proxy on CPU 0; BenchBackend and the load generator on CPU 1;" \
    "typical profile; Streamgate warmed up for ${SG_WARM}s, then ${WARM}s of load before each ${DUR}s run"
echo "# $(machine_line); Streamgate on $("$STREAMGATE_JAVA" -version 2>&1 | head -1)"
start_streamgate
start_nginx
# The JIT compiles the hot path on the proxy's own core, competing with the event loop: Streamgate's throughput and
# p99 keep improving for about a minute of load (10 s runs after start: 18k, 37k, 45k requests/s, p99 93, 9.9,
# 6.9 ms, then 4-5 ms), so one long warm-up before the first measured run; both proxies then stay up.
if [[ $LOAD == json ]]; then
    taskset -c 1 wrk -t2 -c64 -d"${SG_WARM}s" "http://127.0.0.1:18083/json" >/dev/null
else
    sse_probe 18083 0 "$SG_WARM" >/dev/null
fi
for i in $(seq 1 "$PAIRS"); do
    if [[ $LOAD == sse ]]; then measure_sse direct 18080 ""; fi
    if ((i % 2)); then run_streamgate; run_nginx; else run_nginx; run_streamgate; fi
done
