#!/usr/bin/env bash
# Memory per open stream, measured rather than estimated (issue 7: "bounded memory per idle stream"): Streamgate
# (typical profile) in front of BenchBackend holds STREAMS idle SSE streams (an event at the start, the next one
# minutes later); the live heap is counted by class with `jcmd GC.class_histogram` (a full collection first, so only
# reachable objects count) before the streams open and while they are all open. Reports heap bytes per open stream
# and the classes they are made of, Netty's direct memory, and RSS. Results: benchmarks/results/<date>-stream-memory.md.
#
# Knobs: STREAMS [2000]  STREAMGATE_JAR, BENCH_JAR (prebuilt jars)  STREAMGATE_JAVA_OPTS  RESULTS_FILE  KEEP_TMP [0]
#   STREAMGATE_JAVA [java]: the java that runs Streamgate (its JDK's jcmd counts the heap; on Java 24+ the Unsafe flag
#   is added, as perf.sh does)
# Ports 18080, 18083 and 18093 on 127.0.0.1 must be free.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../security/lib.sh"
HERE=$ROOT/benchmarks/load
STREAMS=${STREAMS:-2000}
RESULTS_FILE=${RESULTS_FILE:-$ROOT/benchmarks/results/$(date +%Y-%m-%d)-stream-memory.md}

STREAMGATE_JAVA=${STREAMGATE_JAVA:-java}
JCMD=$(jdk_tool jcmd)
require_tools "curl (apt-get install curl)" "$JCMD (a JDK's jcmd next to STREAMGATE_JAVA)"
allow_netty_unsafe
ensure_jars
require_free_ports 18080 18083 18093
need=$(( 2 * STREAMS + 200 ))
if (( $(ulimit -n) < need )); then
    ulimit -n "$need" 2>/dev/null || die "$STREAMS streams need $need open files; ulimit -n is $(ulimit -n)"
fi

BACKEND_THREADS=2 start_bench_backend 18080
export BENCH_TMP=$TMP
start_streamgate "$HERE/streamgate-typical.yaml" 18083
SG=${PIDS[-1]}

histogram() { # FILE: live objects by class (a full GC first)
    "$JCMD" "$SG" GC.class_histogram >"$1" || die "jcmd GC.class_histogram failed"
}
direct_mib() {
    curl -s --max-time 5 http://127.0.0.1:18093/metrics \
        | awk '/^streamgate_netty_direct_memory_bytes/ {d += $NF} END {printf "%.1f", d / 1048576}'
}
rss_kib() { awk '/^VmRSS/ {print $2}' /proc/"$SG"/status; }
fds() { ls /proc/"$SG"/fd | wc -l; }

# Warm up the paths a stream takes, then let the streams end (their upstream connections stay pooled, and the idle
# streams below reuse them: those need no new upstream socket).
WARM=50
java -cp "$BENCH_JAR" io.streamgate.bench.SseLatencyProbe --url "http://127.0.0.1:18083/sse?events=20&interval_ms=5" \
    --concurrency "$WARM" --duration-s 3 --warmup-s 0 --label warmup >"$TMP/warmup.out" 2>&1 || true
sleep 1

histogram "$TMP/before.txt"
rss0=$(rss_kib); direct0=$(direct_mib); fds0=$(fds)
log "before: $(tail -1 "$TMP/before.txt"), RSS ${rss0} KiB, direct ${direct0} MiB, $fds0 files"

# Idle streams: one event at the start, the next in 5 minutes (the probe stops long before).
java -cp "$BENCH_JAR" io.streamgate.bench.SseLatencyProbe \
    --url "http://127.0.0.1:18083/sse?events=2&interval_ms=300000" --concurrency "$STREAMS" --streams-fixed true \
    --ramp-batch 500 --ramp-interval-ms 100 --threads 2 --duration-s 60 --warmup-s 0 --label idle \
    >"$TMP/idle.out" 2>&1 &
PROBE=$!
PIDS+=("$PROBE")
want=$(( 2 * STREAMS - WARM - STREAMS / 100 )) # 1 % slack: a pooled warm-up connection may have closed meanwhile
for _ in $(seq 300); do
    (( $(fds) >= fds0 + want )) && break
    sleep 0.2
done
open=$(( $(fds) - fds0 ))
(( open >= want )) || die "only $open new sockets after 60 s (want $want)"
sleep 2
histogram "$TMP/open.txt"
rss1=$(rss_kib); direct1=$(direct_mib)
log "open: $(tail -1 "$TMP/open.txt"), RSS ${rss1} KiB, direct ${direct1} MiB, $open new sockets"
kill "$PROBE" 2>/dev/null || true

total() { awk '$1 == "Total" {print $3}' "$1"; }
heap0=$(total "$TMP/before.txt"); heap1=$(total "$TMP/open.txt")
per_stream=$(( (heap1 - heap0) / STREAMS ))
{
    echo "# Memory per open stream ($(date +%Y-%m-%d))"
    echo
    echo "- $(machine_line); Streamgate on $("$STREAMGATE_JAVA" -version 2>&1 | head -1)"
    echo "- Streamgate commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown), typical profile"
    echo "  (\`streamgate-typical.yaml\`), JVM options '${STREAMGATE_JAVA_OPTS:-defaults}'."
    echo "- $STREAMS idle SSE streams through the gateway (client connection, upstream connection, the exchange"
    echo "  between them), measured by \`benchmarks/load/stream-memory.sh\`. Live heap by \`jcmd GC.class_histogram\`"
    echo "  (after a full collection) before the streams opened and with all of them open."
    echo
    echo "| | before | all open | per open stream |"
    echo "|---|---:|---:|---:|"
    echo "| live heap (bytes) | $heap0 | $heap1 | **$per_stream** |"
    echo "| Netty direct memory (MiB) | $direct0 | $direct1 | $(awk -v a="$direct0" -v b="$direct1" -v n="$STREAMS" 'BEGIN {printf "%.0f B", (b - a) * 1048576 / n}') |"
    echo "| RSS (KiB) | $rss0 | $rss1 | $(( (rss1 - rss0) * 1024 / STREAMS )) B |"
    echo
    echo "Largest contributions per open stream (bytes; classes whose live size grew):"
    echo
    echo "| class | bytes per stream | instances per stream |"
    echo "|---|---:|---:|"
    awk -v n="$STREAMS" '
        FNR == NR && $1 ~ /^[0-9]+:$/ {b[$4] = $3; i[$4] = $2; next}
        $1 ~ /^[0-9]+:$/ {db = $3 - b[$4]; di = $2 - i[$4]; if (db > 0) printf "%s %.0f %.1f\n", $4, db / n, di / n}
    ' "$TMP/before.txt" "$TMP/open.txt" | sort -k2,2nr | head -20 \
        | awk '{printf "| `%s` | %s | %s |\n", $1, $2, $3}'
} >"$RESULTS_FILE"
cat "$RESULTS_FILE"
log "results written to $RESULTS_FILE"
