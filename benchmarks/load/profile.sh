#!/usr/bin/env bash
# Where each proxy's CPU goes, by layer, under the same load on one BenchBackend: Streamgate sampled by
# async-profiler (Java, JVM and kernel frames of every thread), nginx by perf (its workers, kernel and user), one
# proxy after the other. Per proxy: CPU per request (or per streamed event) from /proc, split into the kernel, the
# proxy's own code, its libraries and its runtime, in microseconds; for Streamgate also by thread and by the parts
# of a typical configuration (access log, metrics, rate limit, clock reads), with the frames that cost the most,
# and what it allocates per request or event.
# The issue 7 question this answers: of the CPU we spend per request, how much is ours to change.
#
# Knobs (defaults in brackets):
#   LOAD [json]: json = wrk keep-alive GET /json (WRK_CONNECTIONS [64], WRK_THREADS [2]); streams = SseLatencyProbe,
#   STREAMS [2000] long streams at 20 events/s (STREAMS_INTERVAL_MS [50]) for DURATION
#   PROFILE [typical]: bare (access log off) or typical (perf.sh's profiles and configs)
#   WARMUP [60] (seconds of the load per proxy before its profile)  DURATION [20] (seconds profiled)
#   INTERVAL [1ms] (async-profiler's CPU sampling interval; perf samples nginx at 1 kHz per CPU)
#   NGINX [1] (0: Streamgate only)  ALLOC [1] (1: a second run of DURATION through Streamgate with async-profiler's
#   allocation sampling: bytes allocated per request or event, by class and by the code that allocates)
#   RESULTS_FILE [results/<date>-profile-<load>-<profile>.md]
#   ASYNC_PROFILER: libasyncProfiler.so (else the tools.profiler:async-profiler jar for this machine, 4.2, from the
#   local Maven repository or fetched with mvn)
#   STREAMGATE_JAVA [java], STREAMGATE_JAVA_OPTS, STREAMGATE_JAR, BENCH_JAR, KEEP_TMP (1 keeps the collapsed stacks,
#   Streamgate's flame graph, nginx's perf report and the logs): see benchmarks/security/lib.sh
# Needs root or kernel.perf_event_paranoid <= 1 for kernel frames (async-profiler falls back to user frames only).
# Ports 18080, 18083/18084 (typical) or 18081/18082 (bare), 18091/18093 on 127.0.0.1 must be free.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../security/lib.sh"
HERE=$ROOT/benchmarks/load

LOAD=${LOAD:-json}
PROFILE=${PROFILE:-typical}
WARMUP=${WARMUP:-60}
DURATION=${DURATION:-20}
INTERVAL=${INTERVAL:-1ms}
NGINX=${NGINX:-1}
ALLOC=${ALLOC:-1}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
STREAMS=${STREAMS:-2000}
STREAMS_INTERVAL_MS=${STREAMS_INTERVAL_MS:-50}
STREAMGATE_JAVA=${STREAMGATE_JAVA:-java}
[[ $LOAD =~ ^(json|streams)$ ]] || die "LOAD is json or streams, not '$LOAD'"
[[ $PROFILE =~ ^(bare|typical)$ ]] || die "PROFILE is bare or typical, not '$PROFILE'"
RESULTS_FILE=${RESULTS_FILE:-$ROOT/benchmarks/results/$(date +%F)-profile-$LOAD-$PROFILE.md}

tools=("wrk (apt-get install wrk)" "python3 (apt-get install python3)")
[[ $NGINX == 1 ]] && tools+=("nginx (apt-get install nginx)" "perf (apt-get install linux-perf)"
                             "openssl (apt-get install openssl)")
require_tools "${tools[@]}"
ensure_jars
allow_netty_unsafe
JCMD=$(jdk_tool jcmd)
[[ -x $JCMD ]] || die "no jcmd next to $STREAMGATE_JAVA (a JDK, not a JRE, runs Streamgate here)"

# async-profiler's native library: given, or from its Maven jar (one per platform), fetched once into ~/.m2.
find_async_profiler() {
    if [[ -n ${ASYNC_PROFILER:-} ]]; then
        [[ -f $ASYNC_PROFILER ]] || die "ASYNC_PROFILER=$ASYNC_PROFILER does not exist"
        return
    fi
    local platform version=4.2 jar
    case $(uname -m) in x86_64) platform=linux-x64 ;; aarch64) platform=linux-arm64 ;; *) die "no async-profiler for $(uname -m)" ;; esac
    jar=$HOME/.m2/repository/tools/profiler/async-profiler/$version/async-profiler-$version-$platform.jar
    if [[ ! -f $jar ]]; then
        log "fetching async-profiler $version ($platform) with mvn"
        mvn -B -q dependency:get -Dartifact="tools.profiler:async-profiler:$version:jar:$platform" >"$TMP/mvn.log" 2>&1 \
            || { cat "$TMP/mvn.log" >&2; die "could not fetch tools.profiler:async-profiler:$version:jar:$platform"; }
    fi
    mkdir -p "$TMP/async-profiler"
    (cd "$TMP/async-profiler" && python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall()' "$jar")
    ASYNC_PROFILER=$(find "$TMP/async-profiler" -name libasyncProfiler.so | head -1)
    [[ -n $ASYNC_PROFILER ]] || die "no libasyncProfiler.so in $jar"
}
find_async_profiler

if [[ $PROFILE == typical ]]; then
    SG_PORT=18083; NG_PORT=18084; ADMIN_PORT=18093; SG_CONFIG=streamgate-typical.yaml; NG_CONFIG=nginx-typical.conf
else
    SG_PORT=18081; NG_PORT=18082; ADMIN_PORT=18091; SG_CONFIG=streamgate-bench.yaml; NG_CONFIG=nginx.conf
fi
ports=(18080 "$SG_PORT" "$ADMIN_PORT")
[[ $NGINX == 1 ]] && ports+=("$NG_PORT")
require_free_ports "${ports[@]}"

NOFILE=$(ulimit -Hn); [[ $NOFILE == unlimited || $NOFILE -gt 65536 ]] && NOFILE=65536
ulimit -n "$NOFILE"
BENCH_JAVA=(java -Dslf4j.internal.verbosity=ERROR -cp "$BENCH_JAR")
mkdir -p "$TMP/raw"

BACKEND_THREADS=${BACKEND_THREADS:-2} start_bench_backend 18080

# Streamgate as perf.sh starts it, with the JIT's debug information at every instruction so that a sample inside
# inlined code is charged to the method it came from.
opts=(-XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints)
[[ $PROFILE == bare ]] && opts+=(-Dlogback.configurationFile="$HERE/logback-bench.xml")
# shellcheck disable=SC2086
(cd "$TMP" && BENCH_TMP=$TMP exec "$STREAMGATE_JAVA" ${STREAMGATE_JAVA_OPTS:-} "${opts[@]}" -jar "$STREAMGATE_JAR" \
    --config "$HERE/$SG_CONFIG" >"$TMP/streamgate.log" 2>&1) &
PIDS+=($!); SG_PID=$!
wait_for_port Streamgate "$SG_PORT" "$SG_PID" "$TMP/streamgate.log"

if [[ $NGINX == 1 ]]; then
    mkdir -p "$TMP/nginx/logs" "$TMP/nginx/tls"
    cp "$HERE/$NG_CONFIG" "$TMP/nginx/"
    # nginx-typical.conf also has a TLS listener, which needs its certificate to start.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=localhost" \
        -keyout "$TMP/nginx/tls/key.pem" -out "$TMP/nginx/tls/cert.pem" 2>/dev/null || die "openssl: certificate"
    chmod -R a+rwX "$TMP/nginx"
    nginx -c "$TMP/nginx/$NG_CONFIG" -p "$TMP/nginx/" -e "$TMP/nginx/error.log" -g "worker_rlimit_nofile $NOFILE;" \
        >"$TMP/nginx.log" 2>&1 &
    PIDS+=($!); NG_PID=$!
    wait_for_port nginx "$NG_PORT" "$NG_PID" "$TMP/nginx.log"
fi

CLK_TCK=$(getconf CLK_TCK)
ticks() { # utime + stime of a process and its children processes (nginx's workers), in clock ticks
    local p t=0 f
    for p in "$1" $(pgrep -P "$1" || true); do
        f=$(cat /proc/"$p"/stat 2>/dev/null) || continue
        f=${f##*) }
        t=$(( t + $(awk '{print $12 + $13}' <<<"$f") ))
    done
    echo "$t"
}

# run_load PORT SECONDS OUT: the load for SECONDS; prints the requests (json) or events (streams) it got
run_load() {
    local port=$1 seconds=$2 out=$3
    if [[ $LOAD == json ]]; then
        wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${seconds}s" "http://127.0.0.1:$port/json" >"$out" 2>&1
        awk '/requests in/ {print $1}' "$out"
    else
        local each=$(( seconds * 1000 / STREAMS_INTERVAL_MS ))
        timeout $(( seconds + 300 )) "${BENCH_JAVA[@]}" io.streamgate.bench.SseLatencyProbe \
            --url "http://127.0.0.1:$port/sse?events=$each&interval_ms=$STREAMS_INTERVAL_MS" --concurrency "$STREAMS" \
            --streams-fixed true --ramp-batch 500 --ramp-interval-ms 100 --threads 2 --duration-s "$seconds" \
            --warmup-s 0 --label profile >"$out" 2>&1 || true
        grep '^SSE_RESULT' "$out" | tr ' ' '\n' | awk -F= '$1 == "events_total" {print $2}'
    fi
}
UNIT=$([[ $LOAD == json ]] && echo request || echo event)

log "warm-up: ${WARMUP}s of $LOAD per proxy"
run_load "$SG_PORT" "$WARMUP" "$TMP/raw/warmup-sg.txt" >/dev/null
[[ $NGINX == 1 ]] && run_load "$NG_PORT" "$WARMUP" "$TMP/raw/warmup-ng.txt" >/dev/null

# ---- Streamgate under async-profiler ----------------------------------------------------------------------------
agent() { # the profiler's command for Streamgate's JVM (quoted: jcmd would split it at '=')
    "$JCMD" "$SG_PID" JVMTI.agent_load "$ASYNC_PROFILER" "\"$1\"" >>"$TMP/raw/agent.txt" 2>&1
    grep -q 'return code: 0' "$TMP/raw/agent.txt" || die "async-profiler: $(cat "$TMP/raw/agent.txt")"
    : >"$TMP/raw/agent.txt"
}
log "Streamgate: ${DURATION}s of $LOAD under async-profiler (cpu, $INTERVAL)"
agent "start,event=cpu,interval=$INTERVAL,threads"
t0=$(ticks "$SG_PID")
sg_units=$(run_load "$SG_PORT" "$DURATION" "$TMP/raw/load-sg.txt")
t1=$(ticks "$SG_PID")
agent "dump,file=$TMP/streamgate.collapsed,collapsed"
agent "stop,file=$TMP/streamgate-flamegraph.html"
[[ ${sg_units:-0} -gt 0 ]] || die "the load through Streamgate failed: $(tail -5 "$TMP/raw/load-sg.txt")"
SG_CPU_US=$(awk -v t=$(( t1 - t0 )) -v hz="$CLK_TCK" -v n="$sg_units" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
log "  $sg_units ${UNIT}s, $SG_CPU_US µs of CPU per $UNIT"

# The same load again, sampling allocations (TLAB refills and outside-TLAB allocations, weighted by their size, so
# the totals estimate the bytes allocated).
ALLOC_UNITS=0
if [[ $ALLOC == 1 ]]; then
    log "Streamgate: ${DURATION}s of $LOAD with allocation sampling"
    agent "start,event=alloc,threads"
    ALLOC_UNITS=$(run_load "$SG_PORT" "$DURATION" "$TMP/raw/load-sg-alloc.txt")
    agent "stop,file=$TMP/streamgate-alloc.collapsed,collapsed,total"
    log "  $ALLOC_UNITS ${UNIT}s"
fi

# ---- nginx under perf ---------------------------------------------------------------------------------------------
NG_CPU_US=
if [[ $NGINX == 1 ]]; then
    workers=$(pgrep -P "$NG_PID" | paste -sd, -)
    log "nginx: ${DURATION}s of $LOAD under perf (workers $workers)"
    perf record -F 1000 -g -p "$workers" -o "$TMP/nginx.perf.data" >"$TMP/raw/perf-record.txt" 2>&1 &
    perf_pid=$!
    sleep 0.5
    t0=$(ticks "$NG_PID")
    ng_units=$(run_load "$NG_PORT" "$DURATION" "$TMP/raw/load-ng.txt")
    t1=$(ticks "$NG_PID")
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    [[ ${ng_units:-0} -gt 0 ]] || die "the load through nginx failed: $(tail -5 "$TMP/raw/load-ng.txt")"
    NG_CPU_US=$(awk -v t=$(( t1 - t0 )) -v hz="$CLK_TCK" -v n="$ng_units" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
    # Self samples by shared object, and the top symbols, without call graphs.
    perf report -i "$TMP/nginx.perf.data" --no-children --sort dso --stdio -g none 2>/dev/null \
        | awk '/^ +[0-9.]+%/ {sub(/%/, "", $1); print $1, $2}' >"$TMP/nginx-dso.txt"
    perf report -i "$TMP/nginx.perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null \
        | awk '/^ +[0-9.]+%/ && ++n <= 25' >"$TMP/nginx-symbols.txt"
    log "  $ng_units ${UNIT}s, $NG_CPU_US µs of CPU per $UNIT"
fi

# ---- the report ----------------------------------------------------------------------------------------------------
python3 - "$TMP/streamgate.collapsed" "$SG_CPU_US" "${NG_CPU_US:-}" "$TMP/nginx-dso.txt" "$TMP/nginx-symbols.txt" \
        "$UNIT" "$TMP/streamgate-alloc.collapsed" "$ALLOC_UNITS" >"$TMP/report.md" <<'EOF'
import os, sys
from collections import Counter
collapsed, sg_us, ng_us, ng_dso, ng_sym, unit, alloc_file, alloc_units = sys.argv[1:9]
sg_us = float(sg_us)
total = 0
layer, thread, part, own, clock_callers = Counter(), Counter(), Counter(), Counter(), Counter()
LOOP = ('multithreadioeventloopgroup', 'ioeventloop', 'epoll', 'uring')
def thread_kind(name):
    n = name.lower()
    if any(k in n for k in LOOP): return 'event loops'
    if 'access-log' in n: return 'access-log writer'
    if 'gc' in n or 'g1' in n: return 'garbage collector'
    if 'compilerthre' in n.replace(' ', ''): return 'JIT compiler'
    return 'other threads'
def layer_of(frame):
    if frame.endswith('_[k]'): return 'kernel'
    if frame.startswith('io/streamgate/'): return 'Streamgate'
    if frame.startswith('io/netty/'): return 'Netty'
    if frame.startswith(('java/', 'jdk/', 'sun/', 'javax/', 'com/sun/')): return 'JDK'
    if frame.startswith(('io/micrometer/', 'ch/qos/', 'org/slf4j/', 'com/github/benmanes/', 'com/fasterxml/',
                         'io/prometheus/', 'io/lettuce/', 'org/yaml/')): return 'other libraries'
    if frame in ('[vdso]',) or frame.startswith('clock_gettime'): return 'clock reads (vDSO)'
    return 'JVM and native (GC, JIT, runtime, libc)'
PARTS = [('access log (formatting, hand-over)', ('io/streamgate/observe/AccessLog', 'io/streamgate/observe/CombinedLine',
          'io/streamgate/observe/JsonLine', 'io/streamgate/observe/LineBytes', 'BatchedLineAppender.accept')),
         ('metrics (Micrometer)', ('io/micrometer/', 'io/streamgate/observe/RequestMeters', 'io/streamgate/observe/TrafficMeters')),
         ('rate limit', ('io/streamgate/policy/ratelimit/',))]
for line in open(collapsed):
    stack, _, n = line.rstrip('\n').rpartition(' ')
    n = int(n)
    frames = stack.split(';')
    total += n
    name = frames[0].strip('[]').rsplit(' tid=', 1)[0]
    kind = thread_kind(name)
    thread[kind] += n
    top = frames[-1]
    layer[layer_of(top)] += n
    if kind == 'event loops':
        for label, keys in PARTS:
            if any(any(f.startswith(k) or k in f for k in keys) for f in frames[1:]):
                part[label] += n
                break
    if any(f in ('os::javaTimeNanos', 'os::javaTimeMillis') or f.startswith('clock_gettime') or f == '[vdso]' for f in frames):
        part['clock reads (System.nanoTime, currentTimeMillis)'] += n
        java = [f for f in frames if '/' in f and not f.endswith('_[k]')]
        if java:
            clock_callers[java[-1].rsplit('/', 1)[-1]] += n
    if top.startswith('io/streamgate/'):
        own[top] += n
def us(n): return sg_us * n / total
def row(label, n): return f'| {label} | {100 * n / total:.1f} % | {us(n):.2f} |'
print(f'Samples: {total}. CPU per {unit} (from /proc, over the profiled run): Streamgate {sg_us:.2f} µs'
      + (f', nginx {float(ng_us):.2f} µs.' if ng_us else '.'))
print()
print(f'### Streamgate by layer (the frame on top of each sample)\n\n| layer | share | µs per {unit} |\n|---|---:|---:|')
for k, n in layer.most_common(): print(row(k, n))
print(f'\n### Streamgate by thread\n\n| threads | share | µs per {unit} |\n|---|---:|---:|')
for k, n in thread.most_common(): print(row(k, n))
print(f'\n### Parts of the event loops\' work (samples whose stack passes through them, kernel included)\n\n'
      f'| part | share | µs per {unit} |\n|---|---:|---:|')
for k, n in part.most_common(): print(row(k, n))
if clock_callers:
    print('\nClock reads by caller (the innermost Java frame): '
          + ', '.join(f'{k} {100 * n / total:.2f} %' for k, n in clock_callers.most_common(12)) + '.')
print(f'\n### Streamgate\'s own methods on top of the stack (self time)\n\n| method | share | µs per {unit} |\n|---|---:|---:|')
for k, n in own.most_common(15): print(row(k.replace('io/streamgate/', ''), n))
if ng_us and os.path.exists(ng_dso) and os.path.getsize(ng_dso) > 0:
    ng_us = float(ng_us)
    groups = Counter()
    for line in open(ng_dso):
        pct, dso = line.split(None, 1)
        dso = dso.strip()
        g = ('kernel' if 'kernel' in dso else 'nginx' if dso == 'nginx' or dso.endswith('/nginx')
             else 'libc and other libraries' if '.so' in dso else dso)
        groups[g] += float(pct)
    print(f'\n### nginx by layer (perf, self samples by shared object)\n\n| layer | share | µs per {unit} |\n|---|---:|---:|')
    for k, p in groups.most_common(): print(f'| {k} | {p:.1f} % | {ng_us * p / 100:.2f} |')
    print('\nnginx\'s top symbols:\n\n```')
    print(open(ng_sym).read().rstrip())
    print('```')
if int(alloc_units) > 0 and os.path.exists(alloc_file):
    # Each stack ends with the allocated class; the innermost frame outside the JDK is the code that allocated it
    # (a String's bytes are charged to the decoder that made the String, not to Arrays.copyOfRange).
    by_class, by_site, bytes_total = Counter(), Counter(), 0
    for line in open(alloc_file):
        stack, _, n = line.rstrip('\n').rpartition(' ')
        frames = stack.split(';')
        n = int(n)
        bytes_total += n
        by_class[frames[-1].removesuffix('_[i]').removesuffix('_[k]')] += n
        java = [f for f in frames[1:-1] if '/' in f and not f.startswith(('java/', 'jdk/', 'sun/'))]
        by_site[java[-1] if java else '?'] += n
    per = bytes_total / int(alloc_units)
    print(f'\n### Streamgate\'s allocation (async-profiler, a second run of the load)\n')
    print(f'About {per:,.0f} bytes allocated per {unit} ({bytes_total / 1e9:.2f} GB over {int(alloc_units):,} {unit}s).\n')
    print(f'| allocated class | bytes per {unit} | share |\n|---|---:|---:|')
    for k, n in by_class.most_common(15): print(f'| {k} | {n / int(alloc_units):,.0f} | {100 * n / bytes_total:.1f} % |')
    print(f'\n| allocated in | bytes per {unit} | share |\n|---|---:|---:|')
    for k, n in by_site.most_common(15): print(f'| {k} | {n / int(alloc_units):,.0f} | {100 * n / bytes_total:.1f} % |')
EOF

{
    echo "# Where the CPU goes: $LOAD, $PROFILE profile ($(date +%F))"
    echo
    echo "benchmarks/load/profile.sh: LOAD=$LOAD PROFILE=$PROFILE WARMUP=$WARMUP DURATION=$DURATION INTERVAL=$INTERVAL" \
         "$([[ $LOAD == json ]] && echo "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS keep-alive" || echo "STREAMS=$STREAMS at $(( 1000 / STREAMS_INTERVAL_MS )) events/s")."
    echo "Machine: $(machine_line). Streamgate on $("$STREAMGATE_JAVA" -version 2>&1 | head -1) ${STREAMGATE_JAVA_OPTS:-}."
    echo "Streamgate sampled by async-profiler ($(basename "$(dirname "$ASYNC_PROFILER")")), nginx by perf; each"
    echo "proxy alone under the load, one after the other. Shares are of the samples; µs are those shares of the"
    echo "CPU per $UNIT measured from /proc over the same run."
    echo
    cat "$TMP/report.md"
} >"$RESULTS_FILE"
log "wrote $RESULTS_FILE"
