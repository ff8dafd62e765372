#!/usr/bin/env bash
# Streamgate against nginx on one machine, in front of the same BenchBackend, and the backend reached directly
# (issue 7's "Measure"). Interleaved rounds of these loads (LOADS, default all):
#   json     small JSON, keep-alive, wrk -c64: requests/s, p50, p99; proxies "bare" (access log off) and "typical"
#            (rate-limit rule, access log to a file, metrics), see JSON_PROFILES
#   tls      the same over TLS (typical + TLS; both proxies serve one ECDSA P-256 certificate made at run time)
#   h2       HTTP/2 over TLS with h2load -m10
#   sse      per-event latency through 100 concurrent streams, and what each proxy adds over direct
#   streams  ~10,000 concurrent long SSE streams at 20 events/s through one proxy process: events delivered,
#            errors, proxy CPU seconds per million events, proxy RSS (peak, and growth per open stream)
#   conn     new connections per second: plain (wrk, Connection: close), TLS full handshakes (ConnRateProbe)
#            and TLS resumed (wrk, which resumes its sessions)
# Every run also records the CPU time the serving process(es) used, per request / event / connection.
# Medians go to benchmarks/results/<date>-perf.md (also printed). See benchmarks/README.md.
#
# Knobs (defaults in brackets; durations in seconds, "10" or "10s"):
#   ROUNDS [3]  LOADS ["json tls h2 sse streams conn"]  JSON_PROFILES ["bare typical"]
#   PROFILE [typical]: proxy profile for sse, streams and plain conn (tls, h2 and TLS conn always use typical+TLS)
#   DURATION [10]: default of JSON_DURATION (alias WRK_DURATION), TLS_DURATION, H2_DURATION, CONN_DURATION
#   WARMUP [30] (alias WARMUP_WRK_DURATION): wrk warm-up per target before the rounds
#   WRK_CONNECTIONS [64]  WRK_THREADS [2]  H2_CONNECTIONS [32]  H2_STREAMS [10]  H2_THREADS [2]
#   SSE_STREAMS [100]  SSE_EVENTS [200]  SSE_INTERVAL_MS [10]  SSE_DURATION_S [10]  SSE_WARMUP_S [3]
#   RESIDENCE [auto]: during the SSE load, also time in the kernel how long each proxy holds every chunk
#   (relay-latency.bt, needs root and bpftrace); auto runs it when it can, 1 requires it, 0 skips it
#   STREAMS [10000]  STREAMS_INTERVAL_MS [50]  STREAMS_DURATION_S [30]  STREAMS_RAMP_BATCH [500]
#   STREAMS_RAMP_INTERVAL_MS [100]  STREAMS_PROBE_THREADS [2]
#   STREAMS_H2C [0]: K > 0 sends the many streams to the proxies over HTTP/2 with prior knowledge, K streams per
#   connection (streamgate-typical-h2c.yaml :18087, nginx-typical.conf's h2c listener :18088), so a proxy needs one
#   socket per stream instead of two and 10,000 streams fit under an open-files limit of 20,000 (direct stays
#   HTTP/1.1: BenchBackend speaks nothing else)
#   CONN_KINDS ["plain tls-full tls-resumed"]  CONN_CONNECTIONS [64]  CONN_THREADS [2]
#   BACKEND_THREADS [2]  STREAMGATE_TRANSPORT [auto] (io_uring|epoll|nio)  STREAMGATE_JAVA_OPTS  BENCH_JAVA_OPTS  RESULTS_FILE [benchmarks/results/<date>-perf.md]
#   STREAMGATE_JAVA [java]: the java that runs Streamgate (e.g. a JDK 25's bin/java; the probes stay on java); on Java 24+
#   perf.sh adds --sun-misc-unsafe-memory-access=allow to STREAMGATE_JAVA_OPTS, as the Docker image does
#   TITLE  STREAMGATE_JAR, BENCH_JAR (prebuilt jars)  REBUILD [0] (1: build in a copy even if jars exist)
#   MVN_FLAGS (e.g. -o)  BUILD_DIR  KEEP_TMP [0] (1: keep configs, logs and raw tool output)
#   SETTLE [1]: after the warm-up, repeat short rounds of every load (SETTLE_RUN [5] s runs, not recorded, no many
#   streams) until one costs each Streamgate process less than SETTLE_JIT_MS [100] ms of JIT compiling, at most
#   SETTLE_MAX [300] s; 0 skips this. HotSpot keeps compiling for minutes: a switch of load, or code a run's start or
#   end reaches for the first time (an empty pool, a closing connection), sends compiled methods back to the
#   interpreter and C2 compiles them again, holding a core for milliseconds inside the measured runs
#   (docs/performance.md "Round 14"). Needs the jstat of STREAMGATE_JAVA's JDK; every measured run records the
#   compile time Streamgate's JIT spent in it, settled or not.
#   STALLS [auto]: a HostStallProbe pinned to each CPU (taskset) records the moments the host took a CPU away for
#   20 ms or more (about 100 ms at a time on this VM, unseen by the guest); every measured run records how many it
#   met and for how long, next to its p99. auto: when taskset is there; 0 skips it.
#   REUSE_PORT [0]: 1 gives each proxy a listening socket per event loop / worker (SO_REUSEPORT): Streamgate's
#   server.reuse_port, nginx's "listen ... reuseport"; both or neither, so that the comparison stays like for like
#   GC_LOG [1]: Streamgate's JVMs log their collections (-Xlog:gc to a file in the run's directory), and every
#   measured run records the pauses that ended in it (how many, their total and the longest), next to its p99; 0 skips
# Ports 18080-18086 and 18091/18093/18095 on 127.0.0.1 must be free (with STREAMS_H2C, 18087/18088/18097 too).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../security/lib.sh"
HERE=$ROOT/benchmarks/load

secs() { # "10" | "10s" | "2m" -> seconds
    case $1 in
        *m) echo $(( ${1%m} * 60 )) ;;
        *s) echo "${1%s}" ;;
        *) echo "$1" ;;
    esac
}

ROUNDS=${ROUNDS:-3}
LOADS=${LOADS:-json tls h2 sse streams conn}
JSON_PROFILES=${JSON_PROFILES:-bare typical}
PROFILE=${PROFILE:-typical}
DURATION=$(secs "${DURATION:-10}")
JSON_DURATION=$(secs "${JSON_DURATION:-${WRK_DURATION:-$DURATION}}")
TLS_DURATION=$(secs "${TLS_DURATION:-$DURATION}")
H2_DURATION=$(secs "${H2_DURATION:-$DURATION}")
CONN_DURATION=$(secs "${CONN_DURATION:-$DURATION}")
WARMUP=$(secs "${WARMUP:-${WARMUP_WRK_DURATION:-30}}")
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
H2_CONNECTIONS=${H2_CONNECTIONS:-32}
H2_STREAMS=${H2_STREAMS:-10}
H2_THREADS=${H2_THREADS:-2}
SSE_STREAMS=${SSE_STREAMS:-100}
SSE_EVENTS=${SSE_EVENTS:-200}
SSE_INTERVAL_MS=${SSE_INTERVAL_MS:-10}
SSE_DURATION_S=$(secs "${SSE_DURATION_S:-10}")
SSE_WARMUP_S=$(secs "${SSE_WARMUP_S:-3}")
RESIDENCE=${RESIDENCE:-auto}
STREAMS=${STREAMS:-10000}
STREAMS_INTERVAL_MS=${STREAMS_INTERVAL_MS:-50}
STREAMS_DURATION_S=$(secs "${STREAMS_DURATION_S:-30}")
STREAMS_RAMP_BATCH=${STREAMS_RAMP_BATCH:-500}
STREAMS_RAMP_INTERVAL_MS=${STREAMS_RAMP_INTERVAL_MS:-100}
STREAMS_PROBE_THREADS=${STREAMS_PROBE_THREADS:-2}
STREAMS_H2C=${STREAMS_H2C:-0}
CONN_KINDS=${CONN_KINDS:-plain tls-full tls-resumed}
CONN_CONNECTIONS=${CONN_CONNECTIONS:-64}
CONN_THREADS=${CONN_THREADS:-2}
SETTLE=${SETTLE:-1}
SETTLE_RUN=$(secs "${SETTLE_RUN:-5}")
SETTLE_JIT_MS=${SETTLE_JIT_MS:-100}
SETTLE_MAX=$(secs "${SETTLE_MAX:-300}")
STALLS=${STALLS:-auto}
GC_LOG=${GC_LOG:-1}
REUSE_PORT=${REUSE_PORT:-0}
BACKEND_THREADS=${BACKEND_THREADS:-2}
DATE=$(date +%Y-%m-%d)
RESULTS_FILE=${RESULTS_FILE:-$ROOT/benchmarks/results/$DATE-perf.md}
TITLE=${TITLE:-"Performance: Streamgate vs nginx vs direct ($DATE)"}

# Fixed: the YAML and nginx files name them.
BACKEND_PORT=18080
declare -A PORT=([direct]=18080 [sg-bare]=18081 [ng-bare]=18082 [sg-typical]=18083 [ng-typical]=18084
                 [sg-tls]=18085 [ng-tls]=18086 [sg-h2c]=18087 [ng-h2c]=18088)
declare -A ADMIN_PORT=([sg-bare]=18091 [sg-typical]=18093 [sg-tls]=18095 [sg-h2c]=18097)
declare -A SCHEME=([sg-tls]=https [ng-tls]=https)
declare -A SG_CONFIG=([sg-bare]=streamgate-bench.yaml [sg-typical]=streamgate-typical.yaml
                      [sg-tls]=streamgate-typical-tls.yaml [sg-h2c]=streamgate-typical-h2c.yaml)
declare -A NG_CONFIG=([ng-bare]=nginx.conf [ng-typical]=nginx-typical.conf)

has_load() { [[ " $LOADS " == *" $1 "* ]]; }
has_conn() { has_load conn && [[ " $CONN_KINDS " == *" $1 "* ]]; }
for l in $LOADS; do
    [[ $l =~ ^(json|tls|h2|sse|streams|conn)$ ]] || die "unknown load '$l' in LOADS (json tls h2 sse streams conn)"
done
for p in $JSON_PROFILES $PROFILE; do [[ $p =~ ^(bare|typical)$ ]] || die "profiles are bare or typical, not '$p'"; done
for k in $CONN_KINDS; do [[ $k =~ ^(plain|tls-full|tls-resumed)$ ]] || die "unknown CONN_KINDS entry '$k'"; done
[[ $STREAMS_H2C =~ ^[0-9]+$ ]] || die "STREAMS_H2C is a number of streams per connection (0: HTTP/1.1)"
# The many-streams load's proxies: the profile's, or its h2c variant (typical only).
STREAMS_PROFILE=$PROFILE
((STREAMS_H2C > 0)) && STREAMS_PROFILE=h2c

# ---- which targets run --------------------------------------------------------------------------------------
declare -A NEED=([direct]=1)
need_pair() { NEED[sg-$1]=1; NEED[ng-$1]=1; }
if has_load json; then for p in $JSON_PROFILES; do need_pair "$p"; done; fi
if has_load sse || has_conn plain; then need_pair "$PROFILE"; fi
if has_load streams; then need_pair "$STREAMS_PROFILE"; fi
if has_load tls || has_load h2 || has_conn tls-full || has_conn tls-resumed; then need_pair tls; fi
# one nginx serves the typical plain, TLS and h2c listeners
[[ -n ${NEED[ng-tls]:-}${NEED[ng-h2c]:-} ]] && NEED[ng-typical]=1
NEED_TLS_FILES=$([[ -n ${NEED[ng-typical]:-}${NEED[sg-tls]:-} ]] && echo 1 || true)

tools=("java (apt-get install openjdk-17-jre-headless)" "nginx (apt-get install nginx-light, or nginx)"
       "wrk (apt-get install wrk)" "curl (apt-get install curl)")
[[ -n $NEED_TLS_FILES ]] && tools+=("openssl (apt-get install openssl)")
has_load h2 && tools+=("h2load (apt-get install nghttp2-client)")
require_tools "${tools[@]}"
# The proxies' own share of the SSE latency, timed in the kernel (relay-latency.bt): only tracepoints, so root and
# bpftrace suffice.
RESIDENCE_ON=
if has_load sse && [[ $RESIDENCE != 0 ]]; then
    if residence_available; then
        RESIDENCE_ON=1
    elif [[ $RESIDENCE == 1 ]]; then
        die "RESIDENCE=1 needs root and a working bpftrace (apt-get install bpftrace) with the sock:sk_data_ready tracepoint (tracefs mounted on /sys/kernel/tracing)"
    fi
fi
STREAMGATE_JAVA=${STREAMGATE_JAVA:-java}
"$STREAMGATE_JAVA" -version >/dev/null 2>&1 || die "STREAMGATE_JAVA=$STREAMGATE_JAVA does not run"
# jstat reads the JVM's performance counters from its shared-memory file: nothing runs inside the measured process.
JSTAT=$(jdk_tool jstat)
[[ -x $JSTAT ]] || { JSTAT=; log "no jstat next to $STREAMGATE_JAVA (a JRE?): the JIT is neither settled nor recorded"; }
allow_netty_unsafe

# ---- open files: ~2 per stream in a proxy (client + upstream socket) -------------------------------------------
HARD_NOFILE=$(ulimit -Hn)
NOFILE=65536
[[ $HARD_NOFILE != unlimited ]] && ((HARD_NOFILE < NOFILE)) && NOFILE=$HARD_NOFILE
ulimit -n "$NOFILE"
STREAMS_RUN=$STREAMS
STREAMS_NOTE=
if has_load streams; then
    if ((STREAMS_H2C > 0)); then # one upstream socket per stream, one client socket per STREAMS_H2C streams
        streams_max=$(( (NOFILE - 400) * STREAMS_H2C / (STREAMS_H2C + 1) ))
        sockets="one upstream socket per stream and one client socket per $STREAMS_H2C"
    else
        streams_max=$(( (NOFILE - 400) / 2 ))
        sockets="two sockets per stream (client and upstream)"
    fi
    if ((STREAMS > streams_max)); then
        STREAMS_RUN=$streams_max
        STREAMS_NOTE="STREAMS=$STREAMS asked for, but the open-files limit here is $NOFILE (ulimit -Hn: $HARD_NOFILE) and a proxy needs $sockets, so $STREAMS_RUN streams were run. Raise the hard limit (limits.conf, systemd LimitNOFILE, or CAP_SYS_RESOURCE) for the full count$( ((STREAMS_H2C > 0)) || echo ", or run with STREAMS_H2C=100" )."
        log "WARNING: $STREAMS_NOTE"
    fi
fi

# ---- jars, ports, certificate -------------------------------------------------------------------------------
BUILD_DIR=${BUILD_DIR:-${TMPDIR:-/tmp}/streamgate-bench-build}
ensure_jars # builds in $BUILD_DIR, a copy of the tree, when a jar is missing or REBUILD=1
# shellcheck disable=SC2206
BENCH_JAVA=(java ${BENCH_JAVA_OPTS:-} -Dslf4j.internal.verbosity=ERROR -cp "$BENCH_JAR")
"${BENCH_JAVA[@]}" io.streamgate.bench.SseLatencyProbe --help 2>/dev/null | grep -q streams-fixed \
    || die "$BENCH_JAR predates perf.sh (no SseLatencyProbe --streams-fixed); rebuild it or run with REBUILD=1"

ports=()
for inst in "${!NEED[@]}"; do
    ports+=("${PORT[$inst]}")
    [[ -n ${ADMIN_PORT[$inst]:-} ]] && ports+=("${ADMIN_PORT[$inst]}")
done
require_free_ports "${ports[@]}"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
CLK_TCK=$(getconf CLK_TCK)
mkdir -p "$TMP/m" "$TMP/raw"
chmod a+x "$TMP" # nginx's workers run as an unprivileged user

if [[ -n $NEED_TLS_FILES ]]; then
    mkdir -p "$TMP/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$TMP/tls/key.pem" -out "$TMP/tls/cert.pem" 2>/dev/null || die "openssl: certificate"
fi

# ---- start everything (stopped on exit by lib.sh) -------------------------------------------------------------
declare -A PID
start_backend() {
    "${BENCH_JAVA[@]}" io.streamgate.bench.BenchBackend --port "$BACKEND_PORT" --threads "$BACKEND_THREADS" \
        >"$TMP/direct.log" 2>&1 &
    PIDS+=($!); PID[direct]=$!
    wait_for_port BenchBackend "$BACKEND_PORT" "$!" "$TMP/direct.log"
}
start_streamgate_instance() { # instance
    local inst=$1 opts=()
    # The bare profile turns the access log off through logback-bench.xml; the others log as configured.
    [[ $inst == sg-bare ]] && opts+=(-Dlogback.configurationFile="$HERE/logback-bench.xml")
    # One line per pause, stamped with the epoch time at its end, so that each run can count the pauses it met.
    [[ $GC_LOG != 0 ]] && opts+=("-Xlog:gc:file=$TMP/raw/gc-$inst.log:timemillis")
    local config=$HERE/${SG_CONFIG[$inst]}
    if [[ $REUSE_PORT == 1 ]]; then # the server's listen comes first; the admin listener keeps one socket
        config=$TMP/$inst.yaml
        awk '!done && /^  listen:/ {print; print "  reuse_port: true"; done = 1; next} {print}' \
            "$HERE/${SG_CONFIG[$inst]}" >"$config"
    fi
    # shellcheck disable=SC2086
    (cd "$TMP" && BENCH_TMP=$TMP exec "$STREAMGATE_JAVA" ${STREAMGATE_JAVA_OPTS:-} "${opts[@]}" -jar "$STREAMGATE_JAR" \
        --config "$config" >"$TMP/$inst.log" 2>&1) &
    PIDS+=($!); PID[$inst]=$!
    wait_for_port "Streamgate ($inst)" "${PORT[$inst]}" "$!" "$TMP/$inst.log"
}
start_nginx_instance() { # instance
    local inst=$1 dir=$TMP/$1 conf=${NG_CONFIG[$1]}
    mkdir -p "$dir/logs"
    if [[ $REUSE_PORT == 1 ]]; then
        sed 's/ backlog=4096;/ backlog=4096 reuseport;/' "$HERE/$conf" >"$dir/$conf"
    else
        cp "$HERE/$conf" "$dir/"
    fi
    [[ -d $TMP/tls ]] && cp -r "$TMP/tls" "$dir/"
    chmod -R a+rwX "$dir"
    nginx -c "$dir/$conf" -p "$dir/" -e "$dir/error.log" -g "worker_rlimit_nofile $NOFILE;" >"$TMP/$inst.log" 2>&1 &
    PIDS+=($!); PID[$inst]=$!
    wait_for_port "nginx ($inst)" "${PORT[$inst]}" "$!" "$TMP/$inst.log"
}

start_backend
STALLS_ON=
if [[ $STALLS != 0 ]] && command -v taskset >/dev/null; then
    for ((c = 0; c < $(nproc); c++)); do
        taskset -c "$c" java -Xmx16m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$BENCH_JAR" \
            io.streamgate.bench.HostStallProbe --label "cpu$c" >"$TMP/raw/stalls-cpu$c.txt" 2>&1 &
        PIDS+=($!)
    done
    STALLS_ON=1
fi
for inst in sg-bare sg-typical sg-tls sg-h2c; do [[ -n ${NEED[$inst]:-} ]] && start_streamgate_instance "$inst"; done
for inst in ng-bare ng-typical; do [[ -n ${NEED[$inst]:-} ]] && start_nginx_instance "$inst"; done
[[ -n ${NEED[ng-tls]:-} ]] && PID[ng-tls]=${PID[ng-typical]}
[[ -n ${NEED[ng-h2c]:-} ]] && PID[ng-h2c]=${PID[ng-typical]}
INSTANCES=()
for inst in direct sg-bare ng-bare sg-typical ng-typical sg-tls ng-tls sg-h2c ng-h2c; do
    [[ -n ${NEED[$inst]:-} ]] && INSTANCES+=("$inst")
done

url_of() { echo "${SCHEME[$1]:-http}://127.0.0.1:${PORT[$1]}"; }
column_of() { case $1 in direct) echo direct ;; sg-*) echo streamgate ;; ng-*) echo nginx ;; esac; }

for inst in "${INSTANCES[@]}"; do
    h2c=(); [[ $inst == *-h2c ]] && h2c=(--http2-prior-knowledge)
    code=$(curl -sk "${h2c[@]}" -o /dev/null -w '%{http_code}' --max-time 5 "$(url_of "$inst")/json" || true)
    [[ $code == 200 ]] || log "WARNING: $inst answered GET /json with HTTP '$code'; its numbers will show errors"
done
if has_load h2; then
    for inst in sg-tls ng-tls; do
        v=$(curl -sk --http2 -o /dev/null -w '%{http_version}' --max-time 5 "$(url_of "$inst")/json" || true)
        [[ $v == 2 ]] || log "WARNING: $inst did not answer over HTTP/2 (curl saw HTTP/$v)"
    done
fi

# ---- process facts: CPU time, memory, open files ----------------------------------------------------------------
pids_of() { # instance -> the process and, for nginx, its workers
    local p=${PID[$1]}
    echo "$p"
    [[ $1 == ng-* ]] && cat /proc/"$p"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . || true
}
cpu_ticks() { # instance -> utime + stime of its processes, in clock ticks
    local p t=0 f
    for p in $(pids_of "$1"); do
        f=$(cat /proc/"$p"/stat 2>/dev/null) || continue
        f=${f##*) } # fields after "(comm) ": state is field 3 of the original numbering
        t=$(( t + $(awk '{print $12 + $13}' <<<"$f") ))
    done
    echo "$t"
}
mem_kib() { # instance field(VmRSS|VmHWM) -> sum over its processes, KiB
    local p s=0 v
    for p in $(pids_of "$1"); do
        v=$(awk -v k="$2:" '$1 == k {print $2}' /proc/"$p"/status 2>/dev/null || true)
        s=$(( s + ${v:-0} ))
    done
    echo "$s"
}
reset_peak() { local p; for p in $(pids_of "$1"); do echo 5 >/proc/"$p"/clear_refs 2>/dev/null || true; done; }
open_fds() { local p s=0; for p in $(pids_of "$1"); do s=$(( s + $(ls /proc/"$p"/fd 2>/dev/null | wc -l) )); done; echo "$s"; }
machine_ticks() { awk '/^cpu / {busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6}' /proc/stat; }
access_log_lines() { # instance -> lines in its access log file(s), empty when it writes none
    case $1 in
        sg-typical) cat "$TMP"/streamgate-typical-access.log* 2>/dev/null | wc -l ;;
        sg-tls) cat "$TMP"/streamgate-tls-access.log* 2>/dev/null | wc -l ;;
        ng-typical | ng-tls) wc -l <"$TMP/ng-typical/logs/access.log" ;;
    esac
}

# ---- recording ----------------------------------------------------------------------------------------------------
rec() { echo "$4" >>"$TMP/m/$1.$2.$3"; } # section column metric value
num() { [[ -n ${1:-} ]] && echo "$1" || echo nan; }
kv() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k {print $2}' | grep . || echo nan; } # key line
to_us() { # "319.00us" | "1.87ms" | "2.01s" -> microseconds
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.0f", v }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.0f", v * 1000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.0f", v * 1000000 }
        else print "nan" }'
}
per_unit() { # ticks count scale -> CPU time per unit (scale 1e6: µs per unit; 1e6 with events: s per million)
    awk -v t="$1" -v n="$2" -v s="$3" -v hz="$CLK_TCK" 'BEGIN {
        if (n == "nan" || n <= 0) print "nan"; else printf "%.1f", t / hz * s / n }'
}
jit_ms() { # instance -> milliseconds its JIT has spent compiling so far; empty for nginx, the backend or no jstat
    [[ $1 == sg-* && -n $JSTAT ]] || return 0
    "$JSTAT" -compiler "${PID[$1]}" 2>/dev/null | awk 'NR == 2 {printf "%.0f", $4 * 1000}' || true
}
record_jit() { # section instance jit_ms-before: what Streamgate's JIT spent since
    local now
    now=$(jit_ms "$2")
    [[ -n $3 && -n $now ]] && rec "$1" "$(column_of "$2")" jit_ms $(( now - $3 ))
    return 0
}
now_ms() { date +%s%3N; }
record_stalls() { # section column start_ms: host stalls that began since, on any CPU (count, and ms together)
    [[ -n $STALLS_ON ]] || return 0
    local out
    out=$(cat "$TMP"/raw/stalls-cpu*.txt 2>/dev/null | awk -v a="$3" -v b="$(now_ms)" '
        /^STALL / { split($3, s, "="); split($4, d, "="); if (s[2] >= a && s[2] <= b) { n++; ms += d[2] } }
        END { printf "%d %d", n, ms }')
    rec "$1" "$2" stalls "${out% *}"
    rec "$1" "$2" stall_ms "${out#* }"
}
record_gc() { # section instance start_ms: Streamgate's GC pauses that ended since (count, ms in all, longest ms)
    local f=$TMP/raw/gc-$2.log col n ms max
    [[ $2 == sg-* && -f $f ]] || return 0
    read -r n ms max < <(awk -v a="$3" -v b="$(now_ms)" '
        / Pause / { t = substr($1, 2) + 0; d = $NF; sub(/ms$/, "", d); d += 0 # a number: "9.1" > "45.0" as text
                    if (t >= a && t <= b) { n++; ms += d; if (d > max) max = d } }
        END { printf "%d %.0f %.0f\n", n, ms, max }' "$f")
    col=$(column_of "$2")
    rec "$1" "$col" gc_pauses "$n"
    rec "$1" "$col" gc_ms "$ms"
    rec "$1" "$col" gc_max_ms "$max"
}
# Measures around a command: CPU ticks of the instance's processes, access-log lines written, Streamgate's JIT time.
begin_measure() { M_TICKS=$(cpu_ticks "$1"); M_LINES=$(access_log_lines "$1"); M_JIT=$(jit_ms "$1"); M_T0=$(now_ms); }
end_measure() { # section instance count(requests, connections) [count for the access log: requests started]
    local ticks lines logged=${4:-$3}
    ticks=$(( $(cpu_ticks "$2") - M_TICKS ))
    rec "$1" "$(column_of "$2")" cpu_us "$(per_unit "$ticks" "$3" 1000000)"
    record_jit "$1" "$2" "$M_JIT"
    record_stalls "$1" "$(column_of "$2")" "$M_T0"
    record_gc "$1" "$2" "$M_T0"
    if [[ -n $M_LINES ]]; then
        sleep 1.5 # nginx flushes its 64 KiB log buffer every second
        lines=$(( $(access_log_lines "$2") - M_LINES ))
        rec "$1" "$(column_of "$2")" log_ratio "$(awk -v l="$lines" -v n="$logged" 'BEGIN {
            if (n == "nan" || n <= 0) print "nan"; else printf "%.3f", l / n }')"
    fi
}

# ---- the loads ------------------------------------------------------------------------------------------------------
# wrk_run SECTION INSTANCE SECONDS record|no [extra wrk args]: requests/s, p50, p99, errors, CPU per request
wrk_run() {
    local section=$1 inst=$2 seconds=$3 mode=$4 out col
    shift 4
    col=$(column_of "$inst")
    [[ $mode == record ]] && begin_measure "$inst"
    out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${seconds}s" --latency "$@" "$(url_of "$inst")/json" 2>&1 || true)
    [[ $mode == record ]] || return 0
    echo "$out" >>"$TMP/raw/wrk-$section-$inst.txt"
    local rps p50 p99 non2xx sockerr total
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    sockerr=$(awk -F'[ ,]+' '/Socket errors:/ {print $4 + $6 + $8 + $10}' <<<"$out")
    rec "$section" "$col" rps "$(num "$rps")"
    rec "$section" "$col" p50 "$( [[ -n $p50 ]] && to_us "$p50" || echo nan)"
    rec "$section" "$col" p99 "$( [[ -n $p99 ]] && to_us "$p99" || echo nan)"
    rec "$section" "$col" errors "$(( ${non2xx:-0} + ${sockerr:-0} ))"
    end_measure "$section" "$inst" "$(num "$total")"
    log "  $section $inst: ${rps:-?}/s, p50 ${p50:-?}, p99 ${p99:-?}, errors $(( ${non2xx:-0} + ${sockerr:-0} ))"
}

# h2_run SECTION INSTANCE SECONDS record|no: h2load gives requests/s and mean/max/sd of request time (no percentiles)
h2_run() {
    local section=$1 inst=$2 seconds=$3 mode=$4 out col
    col=$(column_of "$inst")
    [[ $mode == record ]] && begin_measure "$inst"
    out=$(h2load -D "$seconds" -c "$H2_CONNECTIONS" -m "$H2_STREAMS" -t "$H2_THREADS" "$(url_of "$inst")/json" 2>&1 || true)
    [[ $mode == record ]] || return 0
    echo "$out" >>"$TMP/raw/h2load-$inst.txt"
    local rps errors done_ started mean max proto
    rps=$(awk '/^finished in/ {for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^req\/s/) printf "%.0f", $i}' <<<"$out")
    # "requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout" and
    # "status codes: N 2xx, N 3xx, N 4xx, N 5xx": failures plus non-2xx answers.
    errors=$(awk '/^requests:/ {e += $10 + $12 + $14} /^status codes:/ {e += $5 + $7 + $9} END {print e + 0}' <<<"$out")
    done_=$(awk '/^requests:/ {print $8}' <<<"$out")
    started=$(awk '/^requests:/ {print $6}' <<<"$out") # those in flight at the end are logged too (as 499)
    mean=$(awk '/^time for request:/ {print $6}' <<<"$out")
    max=$(awk '/^time for request:/ {print $5}' <<<"$out")
    proto=$(awk '/^Application protocol:/ {print $3}' <<<"$out")
    rec "$section" "$col" rps "$(num "$rps")"
    rec "$section" "$col" mean "$( [[ -n $mean ]] && to_us "$mean" || echo nan)"
    rec "$section" "$col" max "$( [[ -n $max ]] && to_us "$max" || echo nan)"
    rec "$section" "$col" errors "$(num "$errors")"
    end_measure "$section" "$inst" "$(num "$done_")" "$(num "$started")"
    log "  $section $inst: ${rps:-?} req/s (${proto:-?}), mean ${mean:-?}, max ${max:-?}, errors ${errors:-?}"
}

# sse_run INSTANCE SECONDS WARMUP record|no: per-event latency with SSE_STREAMS streams run back to back
sse_run() {
    local inst=$1 line col tracer= trace_out
    col=$(column_of "$inst")
    if [[ $4 == record && -n $RESIDENCE_ON && $inst != direct ]]; then
        # Over the probe's measured window (it starts after the probe's warm-up). nginx's workers are found by name.
        # -k: once bpftrace ignored the SIGINT and held perf.sh for 9 minutes (round 16); that window shows no figures.
        trace_out=$TMP/raw/residence-$inst-$(date +%s).txt
        (sleep "$3"; timeout -s INT -k 20 "$2" bpftrace "$HERE/relay-latency.bt" "$([[ $inst == sg-* ]] && echo "${PID[$inst]}" || echo 0)" \
            "${PORT[$inst]}" "$BACKEND_PORT" >"$trace_out" 2>>"$TMP/raw/bpftrace.err") &
        tracer=$!
    fi
    local jit0= t0
    [[ $4 == record ]] && jit0=$(jit_ms "$inst")
    t0=$(( $(now_ms) + $3 * 1000 )) # the probe measures after its warm-up
    line=$(timeout $(( $2 + $3 + 180 )) "${BENCH_JAVA[@]}" io.streamgate.bench.SseLatencyProbe \
        --url "$(url_of "$inst")/sse?events=$SSE_EVENTS&interval_ms=$SSE_INTERVAL_MS" \
        --concurrency "$SSE_STREAMS" --duration-s "$2" --warmup-s "$3" --label "$inst" 2>>"$TMP/raw/probe-$inst.err" \
        | grep '^SSE_RESULT' || true)
    [[ $4 == record ]] || return 0
    echo "${line:-SSE_RESULT label=$inst failed}" >>"$TMP/raw/sse-$inst.txt"
    record_jit sse "$inst" "$jit0"
    record_stalls sse "$col" "$t0"
    record_gc sse "$inst" "$t0"
    local key
    for key in p50_us p90_us p99_us p999_us max_us events streams errors; do
        rec sse "$col" "$key" "$(kv "$key" "$line")"
    done
    log "  sse $inst: ${line#SSE_RESULT }"
    if [[ -n $tracer ]]; then
        wait "$tracer" || true
        local stage q v res=
        for stage in arrival_to_sent arrival_to_read read_to_sent; do
            for q in 50 99; do
                v=$(bucket_quantile "$trace_out" "$stage" "$q")
                rec sse "$col" "res_${stage}_p$q" "$v"
                res+=" ${stage}_p$q=$v"
            done
        done
        log "  sse $inst, held by the proxy (µs):$res"
    fi
}
# streams_run INSTANCE: STREAMS_RUN concurrent streams, one per connection, each as long as STREAMS_DURATION_S
streams_run() {
    local inst=$1 col events_each expected probe line ramp_ms
    col=$(column_of "$inst")
    events_each=$(( STREAMS_DURATION_S * 1000 / STREAMS_INTERVAL_MS ))
    expected=$(( STREAMS_RUN * events_each ))
    ramp_ms=$(( STREAMS_RAMP_BATCH > 0 ? STREAMS_RUN / STREAMS_RAMP_BATCH * STREAMS_RAMP_INTERVAL_MS : 0 ))
    reset_peak "$inst"; reset_peak direct
    local rss0 fds0 t0 b0 m0 t1 b1 m1 hwm busy fds peak_fds=0 rss_at_peak=0 heap_at_peak= jit0 ms0
    rss0=$(mem_kib "$inst" VmRSS); fds0=$(open_fds "$inst"); jit0=$(jit_ms "$inst"); ms0=$(now_ms)
    t0=$(cpu_ticks "$inst"); b0=$(cpu_ticks direct); m0=$(machine_ticks)
    timeout $(( STREAMS_DURATION_S + ramp_ms / 1000 + 300 )) "${BENCH_JAVA[@]}" io.streamgate.bench.SseLatencyProbe \
        --url "$(url_of "$inst")/sse?events=$events_each&interval_ms=$STREAMS_INTERVAL_MS" \
        --concurrency "$STREAMS_RUN" --streams-fixed true --ramp-batch "$STREAMS_RAMP_BATCH" \
        --ramp-interval-ms "$STREAMS_RAMP_INTERVAL_MS" --threads "$STREAMS_PROBE_THREADS" \
        --h2c-streams "$([[ $inst == *-h2c ]] && echo "$STREAMS_H2C" || echo 0)" \
        --duration-s "$STREAMS_DURATION_S" --warmup-s 0 --label "$inst" \
        >"$TMP/raw/streams-$inst.out" 2>>"$TMP/raw/probe-$inst.err" &
    probe=$!
    PIDS+=("$probe")
    # Once a second: the moment the most connections are open gives "RSS with all streams open".
    while kill -0 "$probe" 2>/dev/null; do
        sleep 1
        fds=$(open_fds "$inst")
        if ((fds > peak_fds)); then
            peak_fds=$fds
            rss_at_peak=$(mem_kib "$inst" VmRSS)
            if [[ $inst == sg-* ]]; then # the gateway's own view: heap used / Netty direct memory, MiB
                heap_at_peak=$(curl -s --max-time 5 "http://127.0.0.1:${ADMIN_PORT[$inst]}/metrics" | awk '
                    /^jvm_memory_used_bytes\{.*area="heap"/ {h += $NF} /^streamgate_netty_direct_memory_bytes/ {d += $NF}
                    END {printf "%.0f/%.0f", h / 1048576, d / 1048576}' || true)
            fi
        fi
    done
    wait "$probe" || true
    t1=$(cpu_ticks "$inst"); b1=$(cpu_ticks direct); m1=$(machine_ticks)
    record_jit streams "$inst" "$jit0"
    record_stalls streams "$col" "$ms0"
    record_gc streams "$inst" "$ms0"
    hwm=$(mem_kib "$inst" VmHWM)
    line=$(grep '^SSE_RESULT' "$TMP/raw/streams-$inst.out" || echo "SSE_RESULT label=$inst failed")
    echo "$line" >>"$TMP/raw/streams-$inst.txt"
    local got errors probe_cpu
    got=$(kv events_total "$line"); errors=$(kv errors "$line"); probe_cpu=$(kv cpu_ms "$line")
    busy=$(awk -v a="$m0" -v b="$m1" 'BEGIN { split(a, x, " "); split(b, y, " ");
        if (y[2] > x[2]) printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]); else print "nan" }')
    rec streams "$col" expected "$expected"
    rec streams "$col" received "$got"
    rec streams "$col" delivered_pct "$(awk -v g="$got" -v e="$expected" 'BEGIN {
        if (g == "nan" || e <= 0) print "nan"; else printf "%.3f", 100 * g / e }')"
    rec streams "$col" errors "$errors"
    rec streams "$col" completed "$(kv streams "$line")"
    rec streams "$col" all_open_s "$(awk -v v="$(kv all_open_ms "$line")" 'BEGIN { if (v == "nan" || v < 0) print "nan"; else printf "%.1f", v / 1000 }')"
    rec streams "$col" elapsed_s "$(awk -v v="$(kv elapsed_ms "$line")" 'BEGIN { if (v == "nan") print "nan"; else printf "%.1f", v / 1000 }')"
    rec streams "$col" p50_us "$(kv p50_us "$line")"
    rec streams "$col" p99_us "$(kv p99_us "$line")"
    rec streams "$col" backend_cpu "$(per_unit $(( (b1 - b0) )) "$got" 1000000)"
    rec streams "$col" probe_cpu "$(awk -v c="$probe_cpu" -v g="$got" 'BEGIN {
        if (c == "nan" || c < 0 || g == "nan" || g <= 0) print "nan"; else printf "%.1f", c / 1000 * 1000000 / g }')"
    rec streams "$col" machine_busy "$busy"
    if [[ $inst != direct ]]; then
        rec streams "$col" cpu "$(per_unit $(( t1 - t0 )) "$got" 1000000)"
        rec streams "$col" hwm_mib "$(( hwm / 1024 ))"
        rec streams "$col" rss0_mib "$(( rss0 / 1024 ))"
        rec streams "$col" rss_peak_fds_mib "$(( rss_at_peak / 1024 ))"
        rec streams "$col" kib_per_stream "$(awk -v a="$rss_at_peak" -v b="$rss0" -v n="$STREAMS_RUN" 'BEGIN {printf "%.1f", (a - b) / n}')"
        rec streams "$col" fds_peak "$peak_fds"
        [[ -n $heap_at_peak ]] && echo "$heap_at_peak" >>"$TMP/m/streams.heap_direct_peak"
    fi
    log "  streams $inst: $got/$expected events, errors $errors, all open after $(kv all_open_ms "$line") ms, took $(kv elapsed_ms "$line") ms; CPU $(( (t1 - t0) / CLK_TCK )) s, probe $(( ${probe_cpu/nan/0} / 1000 )) s, machine busy ${busy}%; open files $fds0 -> $peak_fds, RSS ${rss0} -> ${rss_at_peak} KiB (peak $hwm)${heap_at_peak:+, heap/direct MiB $heap_at_peak}"
}

# conn_run KIND INSTANCE SECONDS record|no: new connections per second
conn_run() {
    local kind=$1 inst=$2 seconds=$3 mode=$4 section=conn-$1 col line
    col=$(column_of "$inst")
    if [[ $kind != tls-full ]]; then
        local WRK_CONNECTIONS=$CONN_CONNECTIONS WRK_THREADS=$CONN_THREADS
        wrk_run "$section" "$inst" "$seconds" "$mode" -H 'Connection: close'
        return 0
    fi
    [[ $mode == record ]] && begin_measure "$inst"
    line=$(timeout $(( seconds + 60 )) "${BENCH_JAVA[@]}" io.streamgate.bench.ConnRateProbe \
        --url "$(url_of "$inst")/json" --concurrency "$CONN_CONNECTIONS" --threads "$CONN_THREADS" \
        --duration-s "$seconds" --warmup-s 2 --label "$inst" 2>>"$TMP/raw/conn-$inst.err" | grep '^CONN_RESULT' || true)
    [[ $mode == record ]] || return 0
    echo "${line:-CONN_RESULT label=$inst failed}" >>"$TMP/raw/conn-$inst.txt"
    rec "$section" "$col" rps "$(kv conn_per_s "$line")"
    rec "$section" "$col" p50 "$(kv p50_us "$line")"
    rec "$section" "$col" p99 "$(kv p99_us "$line")"
    rec "$section" "$col" errors "$(kv errors "$line")"
    echo "$inst $(kv tls "$line")" >>"$TMP/m/conn-tls-full.session"
    # The proxy's CPU is measured over the whole probe run, warm-up included, so divide by all its connections.
    rec "$section" "$col" client_cpu_us "$(awk -v c="$(kv cpu_ms "$line")" -v n="$(kv connections_total "$line")" 'BEGIN {
        if (c == "nan" || c < 0 || n == "nan" || n <= 0) print "nan"; else printf "%.1f", c * 1000 / n }')"
    end_measure "$section" "$inst" "$(kv connections_total "$line")"
    log "  $section $inst: ${line#CONN_RESULT }"
}

# ---- warm-up (JIT, pools, TLS), then interleaved rounds -----------------------------------------------------------
pair() { # profile round -> its two proxies, Streamgate first in odd rounds and nginx first in even ones
    if (( $2 % 2 )); then echo "sg-$1 ng-$1"; else echo "ng-$1 sg-$1"; fi
}
log "warm-up: ${WARMUP}s of wrk per target${NEED[sg-tls]:+ (TLS ones over TLS)}"
for inst in "${INSTANCES[@]}"; do
    [[ $inst == ng-h2c ]] && continue # nginx-typical's HTTP/1.1 listener warms the same process; wrk speaks no h2c
    wrk_run warmup "$inst" "$WARMUP" no
    if [[ $inst == *-tls ]]; then
        has_load h2 && h2_run warmup "$inst" "$WARMUP" no
        has_conn tls-full && conn_run tls-full "$inst" 5 no
    fi
done
if has_load sse; then
    for inst in direct $(pair "$PROFILE" 1); do sse_run "$inst" 5 0 no; done
fi
if has_load streams && ((STREAMS_H2C > 0)); then
    # wrk warmed the h2c instances over HTTP/1.1; the streams go through the HTTP/2 code, which the JIT has not seen.
    for inst in $(pair h2c 1); do
        "${BENCH_JAVA[@]}" io.streamgate.bench.SseLatencyProbe --url "$(url_of "$inst")/sse?events=$(( WARMUP * 1000 / STREAMS_INTERVAL_MS ))&interval_ms=$STREAMS_INTERVAL_MS" \
            --concurrency 1000 --streams-fixed true --h2c-streams "$STREAMS_H2C" --duration-s "$WARMUP" --warmup-s 0 \
            --threads "$STREAMS_PROBE_THREADS" --label warmup >/dev/null 2>>"$TMP/raw/probe-$inst.err" || true
    done
fi

# one_round ROUND record|no: every load once, the two proxies of a profile in the round's order. "no" is a settling
# round: SETTLE_RUN-second runs, nothing recorded, no many-streams load (its ramp alone takes longer).
one_round() {
    local round=$1 mode=$2 short= inst p kind targets
    [[ $mode == no ]] && short=$SETTLE_RUN
    for load in $LOADS; do
        case $load in
            json)
                sleep 1
                wrk_run json-direct direct "${short:-$JSON_DURATION}" "$mode"
                for p in $JSON_PROFILES; do
                    for inst in $(pair "$p" "$round"); do sleep 1; wrk_run "json-$p" "$inst" "${short:-$JSON_DURATION}" "$mode"; done
                done ;;
            tls)
                for inst in $(pair tls "$round"); do sleep 1; wrk_run tls "$inst" "${short:-$TLS_DURATION}" "$mode"; done ;;
            h2)
                for inst in $(pair tls "$round"); do sleep 1; h2_run h2 "$inst" "${short:-$H2_DURATION}" "$mode"; done ;;
            sse)
                for inst in direct $(pair "$PROFILE" "$round"); do
                    sleep 1; sse_run "$inst" "${short:-$SSE_DURATION_S}" "$( [[ $mode == no ]] && echo 0 || echo "$SSE_WARMUP_S")" "$mode"
                done ;;
            streams)
                [[ $mode == record ]] || continue
                for inst in direct $(pair "$STREAMS_PROFILE" "$round"); do sleep 3; streams_run "$inst"; done ;;
            conn)
                for kind in $CONN_KINDS; do
                    if [[ $kind == plain ]]; then targets="direct $(pair "$PROFILE" "$round")"; else targets=$(pair tls "$round"); fi
                    for inst in $targets; do sleep 1; conn_run "$kind" "$inst" "${short:-$CONN_DURATION}" "$mode"; done
                done ;;
        esac
    done
}

# Settling: HotSpot keeps compiling long after a warm-up of one load. Each load switch (JSON, then SSE, then
# short connections through the same process) and each run's first and last moments reach code or types the compiled
# methods had not seen; they go back to the interpreter and C2 compiles them again, a few milliseconds of a core at a
# time, inside the measured runs. Short rounds of every load repeat until one costs each Streamgate process less than
# SETTLE_JIT_MS of compiling. nginx needs none. The compile time of every measured run is recorded all the same.
SETTLE_NOTE=
if [[ $SETTLE != 0 && -n $JSTAT ]]; then
    declare -A JIT_BEFORE
    settle_start=$SECONDS settle_rounds=0
    while :; do
        for inst in "${!NEED[@]}"; do [[ $inst == sg-* ]] && JIT_BEFORE[$inst]=$(jit_ms "$inst"); done
        settle_rounds=$(( settle_rounds + 1 ))
        one_round "$settle_rounds" no
        worst=0 costs=
        for inst in "${!JIT_BEFORE[@]}"; do
            spent=$(( $(jit_ms "$inst") - JIT_BEFORE[$inst] ))
            costs+="${costs:+, }$inst $spent ms"
            (( spent > worst )) && worst=$spent
        done
        log "settling round $settle_rounds: JIT $costs"
        (( worst < SETTLE_JIT_MS || SECONDS - settle_start >= SETTLE_MAX )) && break
    done
    SETTLE_NOTE="$settle_rounds short round(s) of ${SETTLE_RUN}s runs, $(( SECONDS - settle_start ))s; the last cost the JIT $costs"
    (( worst < SETTLE_JIT_MS )) || SETTLE_NOTE+=" (not below ${SETTLE_JIT_MS} ms when SETTLE_MAX=${SETTLE_MAX}s ran out)"
fi

for round in $(seq "$ROUNDS"); do
    log "round $round/$ROUNDS"
    one_round "$round" record
done

# ---- facts gathered after the runs ----------------------------------------------------------------------------------
transport_of() { grep -oE 'transport:? [a-z_]+' "$TMP/$1.log" | head -1 | awk '{print $2}' || true; }
tls_session() { # port -> "TLSv1.3 TLS_AES_256_GCM_SHA384, ALPN h2" as openssl s_client sees it
    openssl s_client -connect "127.0.0.1:$1" -alpn h2,http/1.1 </dev/null 2>/dev/null \
        | awk '/^New,/ {p = $2 " " $NF} /^ALPN protocol:/ {a = ", ALPN " $3} END {print p a}' | tr -d ','
}
METRICS_NOTE=
for inst in sg-typical sg-tls sg-bare; do
    [[ -n ${NEED[$inst]:-} ]] || continue
    n=$(curl -s --max-time 5 "http://127.0.0.1:${ADMIN_PORT[$inst]}/metrics" | grep -c '^streamgate_requests_total' || true)
    METRICS_NOTE="Streamgate ($inst) /metrics: $n streamgate_requests_total series"
    break
done
if [[ -n ${NEED[ng-typical]:-} ]]; then
    ng_requests=$(curl -s --max-time 5 "http://127.0.0.1:${PORT[ng-typical]}/nginx_status" | awk 'NR == 3 {print $3}')
    METRICS_NOTE="$METRICS_NOTE; nginx (typical) stub_status: ${ng_requests:-?} requests"
fi

# ---- report -----------------------------------------------------------------------------------------------------------
values() { local f="$TMP/m/$1.$2.$3"; [[ -f $f ]] && grep -v '^nan$' "$f" || true; }
middle() { # numbers, one per line -> their median, nan for none
    sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
median() { values "$@" | middle; } # section column metric
calm_values() { # section column metric: its values from the runs that met no host stall
    local f="$TMP/m/$1.$2"
    [[ -f $f.$3 && -f $f.stalls ]] || return 0
    paste -d' ' "$f.$3" "$f.stalls" | awk '$2 == 0 && $1 != "nan" {print $1}'
}
calm_median() { calm_values "$@" | middle; }
calm_cell() { # section column metric -> "median (runs of all)"
    local v n all
    v=$(calm_median "$@"); n=$(calm_values "$@" | wc -l); all=$(values "$@" | wc -l)
    [[ $v == nan ]] && echo "— (0 of $all)" || echo "$v ($n of $all)"
}
total() { local f="$TMP/m/$1.$2.$3"; [[ -f $f ]] && awk '$1 != "nan" {s += $1} END {print s + 0}' "$f" || echo nan; }
show() { [[ $1 == nan ]] && echo "—" || echo "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "—"; else printf "%.2f", a / b }'; }
diff_() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan") print "—"; else printf "%+d", a - b }'; }
stalls_of() { # section column -> "0 / 1 (100) / 0" per round
    local f="$TMP/m/$1.$2"
    [[ -f $f.stalls ]] || { echo "—"; return; }
    paste -d' ' "$f.stalls" "$f.stall_ms" | awk '{printf "%s%s", (NR > 1 ? " / " : ""), ($1 > 0 ? $1 " (" $2 ")" : "0")} END {print ""}'
}
# per_load_table FILE_SUFFIX TITLE TEXT COLUMN CELL: a section with one row per load that recorded $TMP/m/<load>.FILE_SUFFIX,
# its cell from the command CELL given the load
per_load_table() {
    local suffix=$1 title=$2 text=$3 column=$4 cell=$5 f
    compgen -G "$TMP/m/*.$suffix" >/dev/null || return 0
    printf '\n## %s\n\n%s\n\n| load | %s |\n|---|---|\n' "$title" "$text" "$column"
    for f in "$TMP"/m/*."$suffix"; do
        f=$(basename "$f" ".$suffix")
        echo "| $f | $("$cell" "$f") |"
    done
}
jit_of() { rounds_of "$1" streamgate jit_ms; } # section -> "120/40/0" per round
gc_of() { # section -> "9, 86 (34) / …" per round
    local f="$TMP/m/$1.streamgate"
    paste -d' ' "$f.gc_pauses" "$f.gc_ms" "$f.gc_max_ms" | awk '{printf "%s%s", (NR > 1 ? " / " : ""), ($1 > 0 ? $1 ", " $2 " (" $3 ")" : "0")} END {print ""}'
}
rounds_of() { local f="$TMP/m/$1.$2.$3"; [[ -f $f ]] && paste -sd/ "$f" || echo "—"; }
HEADER='| | direct | streamgate | nginx | streamgate/nginx | streamgate/direct | nginx/direct |
|---|---:|---:|---:|---:|---:|---:|'
# row LABEL SECTION METRIC [total|added|plain] [DIRECT_SECTION]
row() {
    local label=$1 section=$2 metric=$3 kind=${4:-ratio} dsec=${5:-$2} d s n
    if [[ $kind == total ]]; then
        d=$(total "$dsec" direct "$metric"); s=$(total "$section" streamgate "$metric"); n=$(total "$section" nginx "$metric")
        [[ -f $TMP/m/$dsec.direct.$metric ]] || d=nan
        echo "| $label | $(show "$d") | $(show "$s") | $(show "$n") | | | |"
        return
    fi
    if [[ $kind == calm ]]; then # medians over the runs without a host stall; a row only when stalls were recorded
        compgen -G "$TMP/m/$section.*.stalls" >/dev/null || return 0
        d=$(calm_median "$dsec" direct "$metric"); s=$(calm_median "$section" streamgate "$metric"); n=$(calm_median "$section" nginx "$metric")
        local dc="—"; [[ -f $TMP/m/$dsec.direct.$metric ]] && dc=$(calm_cell "$dsec" direct "$metric")
        echo "| $label | $dc | $(calm_cell "$section" streamgate "$metric") | $(calm_cell "$section" nginx "$metric") | $(ratio "$s" "$n") | $(ratio "$s" "$d") | $(ratio "$n" "$d") |"
        return
    fi
    d=$(median "$dsec" direct "$metric"); s=$(median "$section" streamgate "$metric"); n=$(median "$section" nginx "$metric")
    case $kind in
        added) echo "| $label | 0 | $(diff_ "$s" "$d") | $(diff_ "$n" "$d") | | | |" ;;
        plain) echo "| $label | $(show "$d") | $(show "$s") | $(show "$n") | $(ratio "$s" "$n") | | |" ;;
        *) echo "| $label | $(show "$d") | $(show "$s") | $(show "$n") | $(ratio "$s" "$n") | $(ratio "$s" "$d") | $(ratio "$n" "$d") |" ;;
    esac
}
has_section() { compgen -G "$TMP/m/$1.*" >/dev/null; }

# Is the backend fast enough? Its direct rate (json load, else the warm-up) against every proxy figure.
if has_section json-direct; then
    DIRECT_RPS=$(median json-direct direct rps)
else
    DIRECT_RPS=nan
fi
BEST_PROXY=0 BEST_WHERE=
for section in json-bare json-typical tls h2; do
    for col in streamgate nginx; do
        v=$(median "$section" "$col" rps)
        [[ $v != nan ]] && awk -v a="$v" -v b="$BEST_PROXY" 'BEGIN {exit !(a > b)}' && { BEST_PROXY=$v; BEST_WHERE="$col, $section"; }
    done
done
if [[ $DIRECT_RPS == nan ]]; then
    BACKEND_CHECK="not checked (the json load did not run, so there is no direct requests/s figure)"
elif [[ -z $BEST_WHERE ]]; then
    BACKEND_CHECK="direct $DIRECT_RPS requests/s; no request/response load through a proxy ran"
elif awk -v a="$DIRECT_RPS" -v b="$BEST_PROXY" 'BEGIN {exit !(a > b)}'; then
    BACKEND_CHECK="OK: direct $DIRECT_RPS requests/s is $(ratio "$DIRECT_RPS" "$BEST_PROXY")× the best proxy figure ($BEST_PROXY, $BEST_WHERE), so the backend is not what limits the proxies"
else
    BACKEND_CHECK="WARNING: direct $DIRECT_RPS requests/s does not exceed the best proxy figure ($BEST_PROXY, $BEST_WHERE): the backend (or the machine) may be the bottleneck"
fi

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "none (no commit yet)")
[[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -1) ]] && COMMIT="$COMMIT (working tree modified)"
SG_INST=sg-$PROFILE; for i in sg-typical sg-bare sg-tls sg-h2c; do [[ -n ${NEED[$i]:-} ]] && { SG_INST=$i; break; }; done
TLS_PROVIDER=$( [[ -n ${NEED[sg-tls]:-} ]] && grep -oE 'TLS by [^,(]+' "$TMP/sg-tls.log" | head -1 || true)

mkdir -p "$(dirname "$RESULTS_FILE")"
{
    echo "# $TITLE"
    echo
    echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, Linux $(uname -r)"
    echo "- Load average before the run: $LOAD_BEFORE (anything above ~0.5 means other work was competing for the CPUs)."
    echo "- Java: Streamgate $("$STREAMGATE_JAVA" -version 2>&1 | head -1), BenchBackend and probes $(java -version 2>&1 | head -1); nginx: $(nginx -v 2>&1 | sed 's/.*version: //') ($(nginx -V 2>&1 | grep -o 'running with OpenSSL [0-9.a-z]*' || echo OpenSSL)); wrk: $(wrk -v 2>&1 | head -1 | awk '{print $2}')$(has_load h2 && echo "; $(h2load --version | head -1)")"
    echo "- Streamgate commit: $COMMIT; transport: $(transport_of "$SG_INST"); ${TLS_PROVIDER:+$TLS_PROVIDER; }BenchBackend: $(grep -o 'transport=[a-z_]*' "$TMP/direct.log" | head -1 | cut -d= -f2), $BACKEND_THREADS threads; nginx: epoll, worker_processes auto ($(nproc))"
    echo "- JVM options: Streamgate '${STREAMGATE_JAVA_OPTS:-defaults}'$([[ $GC_LOG != 0 ]] && echo " and -Xlog:gc to a file (GC_LOG)"), BenchBackend and probes '${BENCH_JAVA_OPTS:-defaults}'. Open-files limit: $NOFILE. Listening sockets: $([[ $REUSE_PORT == 1 ]] && echo "one per event loop / worker (REUSE_PORT=1: Streamgate's reuse_port, nginx's reuseport)" || echo "one per listener (REUSE_PORT=0)")."
    echo "- Everything (backend, proxies, load generators) shares the same $(nproc) cores; a proxy that uses more CPU also slows the backend and the client."
    profiles=()
    [[ -n ${NEED[sg-bare]:-} ]] && profiles+=("**bare** = proxying only, access logs off (\`streamgate-bench.yaml\` + \`logback-bench.xml\`, \`nginx.conf\`)")
    [[ -n ${NEED[sg-typical]:-} ]] && profiles+=("**typical** = a per-client-IP rate-limit rule that never refuses, the access log written to a file with the same fields in both (nginx: \`log_format streamgate_fields\`, \`buffer=64k flush=1s\`), metrics (Streamgate's /metrics, nginx's stub_status) (\`streamgate-typical.yaml\`, \`nginx-typical.conf\`)")
    [[ -n ${NEED[sg-tls]:-} ]] && profiles+=("**typical+TLS** = typical on a TLS listener with HTTP/2 by ALPN (\`streamgate-typical-tls.yaml\`, the TLS listener of \`nginx-typical.conf\`), one ECDSA P-256 certificate for both")
    [[ -n ${NEED[sg-h2c]:-} ]] && profiles+=("**h2c** = typical on a plain listener that also takes HTTP/2 with prior knowledge (\`streamgate-typical-h2c.yaml\`, the h2c listener of \`nginx-typical.conf\`)")
    echo "- Profiles: $(printf '%s; ' "${profiles[@]}" | sed 's/; $//').$(has_load sse || has_conn plain && echo " sse and plain conn ran with the **$PROFILE** profile.")$(has_load streams && echo " The many streams ran with the **$STREAMS_PROFILE** profile.")"
    echo "- Warm-up: ${WARMUP}s of wrk per target (and h2load / TLS handshakes / SSE where those loads run), then $ROUNDS interleaved rounds (the proxy that goes first alternates); tables show medians over the rounds."
    if [[ -z $JSTAT ]]; then
        echo "- JIT: not settled, not recorded (no jstat next to $STREAMGATE_JAVA)."
    elif [[ $SETTLE == 0 ]]; then
        echo "- JIT: not settled (SETTLE=0); the compile time of each measured run is in the last table."
    else
        echo "- JIT settling after the warm-up: $SETTLE_NOTE. The compile time of each measured run is in the last table."
    fi
    echo "- Backend capacity: $BACKEND_CHECK."
    if [[ -n $STALLS_ON ]]; then
        echo "- Host stalls (HostStallProbe on each CPU: the host took the CPU away for 20 ms or more): $(cat "$TMP"/raw/stalls-cpu*.txt 2>/dev/null | awk '/^STALL / {split($4, d, "="); n++; ms += d[2]; if (d[2] > max) max = d[2]} END {printf "%d over the whole run, %d ms in all, the longest %d ms", n, ms, max}'); per measured run in the last table. A stall holds everything on that CPU for its length, so a run that met one has it in its p99."
    else
        echo "- Host stalls: not recorded (STALLS=0 or no taskset)."
    fi
    [[ -n $METRICS_NOTE ]] && echo "- Metrics after the run: $METRICS_NOTE."
    if [[ -n ${NEED[sg-tls]:-} ]]; then
        echo "- TLS as \`openssl s_client\` negotiates it: Streamgate $(tls_session "${PORT[sg-tls]}"); nginx $(tls_session "${PORT[ng-tls]}")."
    fi
    echo "- CPU rows: user + system time of the serving process(es) during the run (/proc/PID/stat), divided by the work done; for direct that is the backend, for a proxy only the proxy (nginx: master + workers)."
    echo
    for p in $JSON_PROFILES; do
        has_section "json-$p" || continue
        echo "## Small JSON, keep-alive ($p): wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${JSON_DURATION}s --latency, GET /json (237 B body)"
        echo
        echo "$HEADER"
        row "requests/s (higher is better)" "json-$p" rps ratio json-direct
        row "latency p50 (µs)" "json-$p" p50 ratio json-direct
        row "latency p99 (µs)" "json-$p" p99 ratio json-direct
        row "latency p99, runs without a host stall (µs; runs)" "json-$p" p99 calm json-direct
        row "CPU µs per request" "json-$p" cpu_us ratio json-direct
        [[ $p == typical ]] && row "access log lines / requests" "json-$p" log_ratio plain json-none
        row "errors, all rounds (non-2xx + socket)" "json-$p" errors total json-direct
        echo
    done
    if has_section tls; then
        echo "## Small JSON over TLS (typical+TLS): wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${TLS_DURATION}s --latency, https://…/json, keep-alive"
        echo
        echo "The backend speaks no TLS, so there is no direct column; compare with the plain typical table above."
        echo
        echo "$HEADER"
        row "requests/s" tls rps
        row "latency p50 (µs)" tls p50
        row "latency p99 (µs)" tls p99
        row "latency p99, runs without a host stall (µs; runs)" tls p99 calm
        row "CPU µs per request" tls cpu_us
        row "access log lines / requests" tls log_ratio plain
        row "errors, all rounds" tls errors total
        echo
    fi
    if has_section h2; then
        echo "## HTTP/2 over TLS (typical+TLS): h2load -c$H2_CONNECTIONS -m$H2_STREAMS -t$H2_THREADS -D$H2_DURATION, GET /json"
        echo
        echo "h2load reports no percentiles: mean and max of the request time. Both proxies speak HTTP/1.1 to the backend."
        echo
        echo "$HEADER"
        row "requests/s" h2 rps
        row "request time mean (µs)" h2 mean
        row "request time max (µs)" h2 max
        row "CPU µs per request" h2 cpu_us
        row "access log lines / requests" h2 log_ratio plain
        row "errors, all rounds (failed + non-2xx)" h2 errors total
        echo
    fi
    if has_section sse; then
        echo "## SSE ($PROFILE): $SSE_STREAMS concurrent streams, $SSE_EVENTS events every $SSE_INTERVAL_MS ms each, ${SSE_DURATION_S}s measured after ${SSE_WARMUP_S}s"
        echo
        echo "Latency of each event from the backend's write to the probe's read (µs)."
        echo
        echo "$HEADER"
        row "p50" sse p50_us
        row "p90" sse p90_us
        row "p99" sse p99_us
        row "p99, runs without a host stall (µs; runs)" sse p99_us calm
        row "p99.9" sse p999_us
        row "max" sse max_us
        row "added p50 vs direct" sse p50_us added
        row "added p99 vs direct" sse p99_us added
        row "events measured" sse events
        row "streams completed" sse streams
        row "stream errors, all rounds" sse errors total
        echo
        if [[ -f $TMP/m/sse.streamgate.res_arrival_to_sent_p99 ]]; then
            echo "Held by the proxy, timed in the kernel (relay-latency.bt, over each measured window): from a chunk reaching the proxy's upstream socket to the proxy's write of it to the client, split at the kernel's receive (on io_uring that precedes the proxy's handling of the chunk, so compare the two proxies on the whole). The rest of the latency above is the backend's and the probe's (their writes, their waits for a core). Buckets: 1 µs below 100 µs, 10 µs below 1 ms, 100 µs below 10 ms."
            echo
            echo "$HEADER"
            row "held p50 (µs)" sse res_arrival_to_sent_p50
            row "held p99 (µs)" sse res_arrival_to_sent_p99
            row "arrival to read p50 (µs)" sse res_arrival_to_read_p50
            row "arrival to read p99 (µs)" sse res_arrival_to_read_p99
            row "read to write p50 (µs)" sse res_read_to_sent_p50
            row "read to write p99 (µs)" sse res_read_to_sent_p99
            echo
        fi
    fi
    if has_section streams; then
        events_each=$(( STREAMS_DURATION_S * 1000 / STREAMS_INTERVAL_MS ))
        if ((STREAMS_H2C > 0)); then
            per_conn="to the proxies over HTTP/2 with prior knowledge, $STREAMS_H2C per connection (direct: one HTTP/1.1 connection each)"
        else
            per_conn="one per connection"
        fi
        echo "## Many long streams ($STREAMS_PROFILE): $STREAMS_RUN concurrent SSE streams, $per_conn, $events_each events every $STREAMS_INTERVAL_MS ms each ($(( STREAMS_RUN * 1000 / STREAMS_INTERVAL_MS )) events/s in all, ${STREAMS_DURATION_S}s per stream)"
        echo
        [[ -n $STREAMS_NOTE ]] && { echo "**Note:** $STREAMS_NOTE"; echo; }
        echo "Connections opened $STREAMS_RAMP_BATCH at a time every $STREAMS_RAMP_INTERVAL_MS ms; *all open after* is when the probe had all of them open, *run took* when the last stream ended (the ramp plus ${STREAMS_DURATION_S}s if every target keeps up). Memory: RSS of the proxy (nginx: master + workers summed, so shared pages count more than once) just before the run, at the second the most of its files were open (sampled once a second), and its peak (VmHWM, reset before the run); per stream = (RSS with the most open − before) / streams. CPU: per million events received; the backend's and the probe's are there to show how much of the machine the harness itself took."
        echo
        echo "$HEADER"
        row "events expected" streams expected
        row "events received" streams received
        row "delivered (%)" streams delivered_pct
        row "streams completed" streams completed
        row "errors, all rounds" streams errors total
        row "all connections open after (s)" streams all_open_s
        row "run took (s)" streams elapsed_s
        row "event latency p50 (µs)" streams p50_us
        row "event latency p99 (µs)" streams p99_us
        row "proxy CPU s per million events" streams cpu
        row "backend CPU s per million events" streams backend_cpu
        row "probe CPU s per million events" streams probe_cpu
        row "machine CPU busy (%)" streams machine_busy
        row "proxy open files, most at once" streams fds_peak
        row "proxy RSS before (MiB)" streams rss0_mib
        row "proxy RSS, most files open (MiB)" streams rss_peak_fds_mib
        row "proxy peak RSS (MiB)" streams hwm_mib
        row "proxy memory per open stream (KiB)" streams kib_per_stream
        echo
        [[ -f $TMP/m/streams.heap_direct_peak ]] && { echo "Streamgate's own view at the moment the most files were open (heap used / Netty direct memory, MiB, per round): $(paste -sd' ' "$TMP/m/streams.heap_direct_peak"). Heap used includes garbage not yet collected."; echo; }
    fi
    for kind in $CONN_KINDS; do
        has_section "conn-$kind" || continue
        case $kind in
            plain) echo "## New connections per second, plain ($PROFILE): wrk -t$CONN_THREADS -c$CONN_CONNECTIONS -d${CONN_DURATION}s -H 'Connection: close'"
                   echo; echo "Every request on a new TCP connection; the server closes it after the response. Latencies are wrk's (from the request write, so they exclude the connect)." ;;
            tls-full) echo "## New TLS connections per second, full handshakes (typical+TLS): ConnRateProbe, $CONN_CONNECTIONS concurrent, ${CONN_DURATION}s"
                      echo; echo "Each connection: TCP connect, a full TLS handshake (no session resumption), one GET /json with Connection: close, close. Latency: connect to end of response. Negotiated: $(sort -u "$TMP/m/conn-tls-full.session" 2>/dev/null | paste -sd';' | sed 's/;/; /g'). A TLS client costs about as much CPU as the server (this one, a JVM with BoringSSL, more: see its row), so on a small machine connections/s is bounded by the client as much as by the proxy; CPU µs per connection is the comparison that holds." ;;
            tls-resumed) echo "## New TLS connections per second, resumed sessions (typical+TLS): wrk -t$CONN_THREADS -c$CONN_CONNECTIONS -d${CONN_DURATION}s -H 'Connection: close'"
                         echo; echo "wrk keeps each connection's TLS session and resumes it on reconnect (abbreviated handshake): what a returning client costs. The backend speaks no TLS, so no direct column." ;;
        esac
        echo
        echo "$HEADER"
        row "connections/s" "conn-$kind" rps
        row "latency p50 (µs)" "conn-$kind" p50
        row "latency p99 (µs)" "conn-$kind" p99
        row "CPU µs per connection" "conn-$kind" cpu_us
        [[ $kind == tls-full ]] && row "client (ConnRateProbe) CPU µs per connection" "conn-$kind" client_cpu_us
        row "errors, all rounds" "conn-$kind" errors total
        echo
    done
    echo "## Per-round values"
    echo
    echo "| load | metric | direct | streamgate | nginx |"
    echo "|---|---|---|---|---|"
    for sm in json-bare:rps json-bare:p99 json-typical:rps json-typical:p99 tls:rps tls:p99 h2:rps sse:p50_us sse:p99_us \
              streams:received streams:cpu streams:kib_per_stream conn-plain:rps conn-tls-full:rps conn-tls-resumed:rps; do
        s=${sm%%:*} m=${sm#*:}
        has_section "$s" || continue
        d=$(rounds_of "$s" direct "$m"); [[ $s == json-* ]] && d=$(rounds_of json-direct direct "$m")
        echo "| $s | $m | $d | $(rounds_of "$s" streamgate "$m") | $(rounds_of "$s" nginx "$m") |"
    done
    per_load_table streamgate.jit_ms "Streamgate's JIT during the measured runs" \
        "Milliseconds its compiler threads spent compiling during each measured run (jstat; 10 ms resolution), per round: a compile holds a core the proxies, the backend and the load generator share." \
        "ms per round" jit_of
    per_load_table streamgate.gc_pauses "Streamgate's GC pauses during the measured runs" \
        "Collector pauses that ended during each measured run (-Xlog:gc), per round: how many, their total and the longest (ms). A pause holds both event loops; compare with the per-round p99s above." \
        "pauses, total ms (longest) per round" gc_of
    if compgen -G "$TMP/m/*.stalls" >/dev/null; then
        echo
        echo "## Host stalls during the measured runs"
        echo
        echo "Stalls of 20 ms or more that began during each measured run, on any CPU, per round: count (milliseconds in all). Compare with the per-round p99s above."
        echo
        echo "| load | direct | streamgate | nginx |"
        echo "|---|---|---|---|"
        for s in $(ls "$TMP"/m/*.stalls | xargs -n1 basename | cut -d. -f1 | sort -u); do
            echo "| $s | $(stalls_of "$s" direct) | $(stalls_of "$s" streamgate) | $(stalls_of "$s" nginx) |"
        done
    fi
} >"$RESULTS_FILE"

cat "$RESULTS_FILE"
log "results written to $RESULTS_FILE"
