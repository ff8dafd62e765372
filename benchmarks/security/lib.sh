# Shared helpers for benchmarks/security/*.sh and benchmarks/load/{perf,cache}.sh (sourced, not run). Everything
# listens on 127.0.0.1 only and is stopped on exit. Knobs common to all scripts:
#   STREAMGATE_JAR, BENCH_JAR (prebuilt jars; else built in a copy of the tree)  MVN_FLAGS (e.g. -o)  BUILD_DIR
#   REBUILD [0] (1: build in the copy even when the jars exist)
#   STREAMGATE_JAVA_OPTS  KEEP_TMP [0] (1: keep configs, certificates and logs in the temp dir)

SECURITY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SECURITY_DIR/../.." && pwd)
SCRIPT_NAME=$(basename "$0")

log() { printf '[%s %s] %s\n' "$SCRIPT_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# require_tools "cmd (apt-get install pkg)" ...
require_tools() {
    local missing=() spec
    for spec in "$@"; do
        command -v "${spec%% *}" >/dev/null || missing+=("$spec")
    done
    ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]}"
}

# Sets STREAMGATE_JAR and BENCH_JAR, building both in a copy of the tree when either is missing (or REBUILD=1).
ensure_jars() {
    STREAMGATE_JAR=${STREAMGATE_JAR:-$ROOT/proxy-server/target/streamgate.jar}
    BENCH_JAR=${BENCH_JAR:-$ROOT/benchmarks/target/benchmarks.jar}
    if [[ ${REBUILD:-0} != 1 && -f $STREAMGATE_JAR && -f $BENCH_JAR ]]; then
        return
    fi
    command -v mvn >/dev/null || die "jars missing and no mvn (apt-get install maven)"
    # Build in a copy so a shared working tree (and anyone else building in it) is left alone.
    BUILD_DIR=${BUILD_DIR:-${TMPDIR:-/tmp}/streamgate-security-build}
    log "building the jars in $BUILD_DIR"
    rm -rf "$BUILD_DIR" && mkdir -p "$BUILD_DIR" || die "cannot make $BUILD_DIR"
    tar -C "$ROOT" --exclude=./.git --exclude=target -cf - . | tar -C "$BUILD_DIR" -xf - || die "cannot copy the tree"
    # shellcheck disable=SC2086
    (cd "$BUILD_DIR" && mvn -B -q -Dstyle.color=never ${MVN_FLAGS:-} -DskipTests package) || die "build failed"
    STREAMGATE_JAR=$BUILD_DIR/proxy-server/target/streamgate.jar
    BENCH_JAR=$BUILD_DIR/benchmarks/target/benchmarks.jar
}

# On Java 24+ Netty uses sun.misc.Unsafe only when allowed, as the Docker image allows it: adds the flag to
# STREAMGATE_JAVA_OPTS when STREAMGATE_JAVA [java] takes it (Java 17 knows no such flag) and the options lack it.
allow_netty_unsafe() {
    if [[ ${STREAMGATE_JAVA_OPTS:-} != *sun-misc-unsafe-memory-access* ]] \
            && "${STREAMGATE_JAVA:-java}" --sun-misc-unsafe-memory-access=allow -version >/dev/null 2>&1; then
        STREAMGATE_JAVA_OPTS="${STREAMGATE_JAVA_OPTS:+$STREAMGATE_JAVA_OPTS }--sun-misc-unsafe-memory-access=allow"
    fi
}

# jdk_tool NAME: the path of the JDK tool NAME (jcmd, jstat) next to STREAMGATE_JAVA [java], so that it speaks to the
# JVM that runs Streamgate; the path may not exist (a JRE), which the caller checks.
jdk_tool() { echo "$(dirname "$(readlink -f "$(command -v "${STREAMGATE_JAVA:-java}")")")/$1"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_free_ports() {
    local port
    for port in "$@"; do
        port_open "$port" && die "port $port on 127.0.0.1 is already in use"
    done
    return 0
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/streamgate-${SCRIPT_NAME%.sh}.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP_TMP:-0} == 1 ]]; then log "files kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

# A CA and an RSA and an ECDSA leaf for localhost / 127.0.0.1 in $TMP/certs.
make_certs() {
    local d=$TMP/certs
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj "/CN=Streamgate bench CA" \
        -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null || die "openssl: CA"
    local kind
    for kind in rsa ecdsa; do
        if [[ $kind == rsa ]]; then
            openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/$kind.key" -out "$d/$kind.csr" 2>/dev/null
        else
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
                -keyout "$d/$kind.key" -out "$d/$kind.csr" 2>/dev/null
        fi
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >"$d/ext.cnf"
        openssl x509 -req -in "$d/$kind.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 365 \
            -extfile "$d/ext.cnf" -out "$d/$kind.pem" 2>/dev/null || die "openssl: $kind leaf"
    done
    CERT_DIR=$d
}

# start_bench_backend PORT
start_bench_backend() {
    java -Dslf4j.internal.verbosity=ERROR -cp "$BENCH_JAR" io.streamgate.bench.BenchBackend \
        --port "$1" --threads "${BACKEND_THREADS:-1}" >"$TMP/backend.log" 2>&1 &
    PIDS+=($!); wait_for_port BenchBackend "$1" "$!" "$TMP/backend.log"
}

# start_streamgate CONFIG_FILE PORT
start_streamgate() {
    # shellcheck disable=SC2086
    "${STREAMGATE_JAVA:-java}" ${STREAMGATE_JAVA_OPTS:-} -Dlogback.configurationFile="$ROOT/benchmarks/load/logback-bench.xml" \
        -jar "$STREAMGATE_JAR" --config "$1" >"$TMP/streamgate.log" 2>&1 &
    PIDS+=($!); wait_for_port Streamgate "$2" "$!" "$TMP/streamgate.log"
}

# Percentile of a file of numbers (one per line): percentile FILE P
percentile() {
    sort -g "$1" | awk -v p="$2" '{v[NR] = $1} END { if (NR == 0) { print "nan"; exit }
        i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; print v[i] }'
}

# residence_available: whether benchmarks/load/relay-latency.bt can run here (root, bpftrace, the sock tracepoints),
# checked by loading a probe on the tracepoint it needs. A fresh machine may not have tracefs mounted, and bpftrace
# then finds no tracepoints: it is mounted first.
residence_available() {
    [[ $(id -u) == 0 ]] && command -v bpftrace >/dev/null || return 1
    if [[ ! -e /sys/kernel/tracing/available_events && -d /sys/kernel/tracing ]]; then
        mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
    fi
    timeout 30 bpftrace -e 'tracepoint:sock:sk_data_ready { exit(); } interval:ms:100 { exit(); }' >/dev/null 2>&1
}

# bucket_quantile FILE MAP Q: the bucket (µs) at the Q-th percentile of one of relay-latency.bt's maps, nan if empty
bucket_quantile() {
    awk -v m="@$2[" 'index($0, m) == 1 { sub(/^@[a-z_]+\[/, ""); split($0, kv, /\]: /); print kv[1], kv[2] }' "$1" \
        | sort -g | awk -v q="$3" '{b[NR] = $1; c[NR] = $2; total += $2} END {
            if (total == 0) { print "nan"; exit }
            for (i = 1; i <= NR; i++) { acc += c[i]; if (acc >= total * q / 100) { print b[i]; exit } } }'
}

machine_line() {
    echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, Linux $(uname -r); $(java -version 2>&1 | head -1)"
}
