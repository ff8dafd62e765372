#!/usr/bin/env bash
# Two Streamgate gateways, A and B, side by side in front of one BenchBackend: alternating wrk runs against each (the
# one that goes first alternates), and per round the ratio B/A of CPU per request, requests/s and p99. For a change
# whose effect is smaller than what separates two perf.sh runs on a shared machine: both gateways meet the same
# moments of the host, and the paired ratios cancel what moves them both. Used for round 18 (server.reuse_port).
#
# Knobs (defaults in brackets):
#   A_JAR, B_JAR [STREAMGATE_JAR]: the jars (the same one twice to compare two configurations)
#   A_YAML, B_YAML [YAML]: extra lines for the server section of each gateway, e.g. B_YAML='reuse_port: true'
#   CONFIG [streamgate-typical.yaml]: the configuration both start from (in benchmarks/load; its ports and access
#   log file are moved; plain HTTP only: the script makes no certificates)
#   CLOSE [1]: 1 sends "Connection: close" (a new connection per request), 0 keeps connections alive
#   ROUNDS [10]  DURATION [10] (seconds per run)  WARMUP [20] (seconds of wrk per gateway, with and without
#   keep-alive, before the rounds)  CONNECTIONS [64]  THREADS [2]  BACKEND_THREADS [2]
#   STREAMGATE_JAVA [java]  STREAMGATE_JAVA_OPTS (on Java 24+ --sun-misc-unsafe-memory-access=allow is added)
#   A_JAVA_OPTS, B_JAVA_OPTS: JVM options for one gateway only, after STREAMGATE_JAVA_OPTS, e.g.
#   B_JAVA_OPTS=-XX:+UseCompactObjectHeaders
#   STREAMGATE_JAR, BENCH_JAR, REBUILD, MVN_FLAGS, BUILD_DIR, KEEP_TMP: see benchmarks/security/lib.sh
# Ports 18080, 18183/18193 (A) and 18283/18293 (B) on 127.0.0.1 must be free.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../security/lib.sh"
HERE=$ROOT/benchmarks/load

require_tools "wrk (apt-get install wrk)" "awk (apt-get install gawk)"
ensure_jars
A_JAR=${A_JAR:-$STREAMGATE_JAR}
B_JAR=${B_JAR:-$STREAMGATE_JAR}
CONFIG=${CONFIG:-streamgate-typical.yaml}
CLOSE=${CLOSE:-1}
ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-20}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
STREAMGATE_JAVA=${STREAMGATE_JAVA:-java}
allow_netty_unsafe
declare -A PORT=([A]=18183 [B]=18283) ADMIN=([A]=18193 [B]=18293) JAR=([A]=$A_JAR [B]=$B_JAR) \
    EXTRA=([A]=${A_YAML:-${YAML:-}} [B]=${B_YAML:-${YAML:-}}) JVM=([A]=${A_JAVA_OPTS:-} [B]=${B_JAVA_OPTS:-}) PID
require_free_ports 18080 "${PORT[A]}" "${ADMIN[A]}" "${PORT[B]}" "${ADMIN[B]}"

BACKEND_THREADS=${BACKEND_THREADS:-2} start_bench_backend 18080
for g in A B; do
    # The config's own listener and admin ports are moved; the extra lines go right under the server's listen.
    awk -v port="${PORT[$g]}" -v admin="${ADMIN[$g]}" -v extra="${EXTRA[$g]}" -v accesslog="$TMP/access-$g.log" '
        /^  listen:/ && !seen++ { print "  listen: \"127.0.0.1:" port "\""; n = split(extra, lines, "\n");
                                  for (i = 1; i <= n; i++) if (lines[i] != "") print "  " lines[i]; next }
        /^  listen:/ { print "  listen: \"127.0.0.1:" admin "\""; next }
        /^  file: / { print "  file: \"" accesslog "\""; next }
        { print }' "$HERE/$CONFIG" >"$TMP/$g.yaml"
    # shellcheck disable=SC2086
    (cd "$TMP" && BENCH_TMP=$TMP exec "$STREAMGATE_JAVA" ${STREAMGATE_JAVA_OPTS:-} ${JVM[$g]} -jar "${JAR[$g]}" \
        --config "$TMP/$g.yaml" >"$TMP/$g.log" 2>&1) &
    PIDS+=($!); PID[$g]=$!
    wait_for_port "Streamgate $g" "${PORT[$g]}" "$!" "$TMP/$g.log"
done

close=(); [[ $CLOSE == 1 ]] && close=(-H 'Connection: close')
url() { echo "http://127.0.0.1:${PORT[$1]}/json"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
log "warm-up: ${WARMUP}s of wrk per gateway, with and without keep-alive"
for g in A B; do
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -H 'Connection: close' "$(url $g)" >/dev/null
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$(url $g)" >/dev/null
done

HZ=$(getconf CLK_TCK)
RESULTS=$TMP/rounds
for ((r = 1; r <= ROUNDS; r++)); do
    order="A B"; ((r % 2 == 0)) && order="B A"
    for g in $order; do
        c0=$(cpu_ticks "${PID[$g]}")
        out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "${close[@]}" "$(url $g)")
        c1=$(cpu_ticks "${PID[$g]}")
        echo "$out" | awk -v r="$r" -v g="$g" -v ticks=$((c1 - c0)) -v hz="$HZ" '
            /requests in/ { n = $1 }
            /Requests\/sec/ { rps = $2 }
            $1 == "99%" { p = $2; unit = p; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", p)
                          p99 = unit == "ms" ? p * 1000 : unit == "s" ? p * 1e6 : p }
            /Non-2xx|Socket errors/ { errors = 1 }
            END { printf "%d %s %.0f %.0f %.1f %d\n", r, g, rps, p99, ticks / hz * 1e6 / n, errors }' | tee -a "$RESULTS" \
            | awk '{ printf "round %s %s: %s requests/s, p99 %s us, CPU %s us per request%s\n", $1, $2, $3, $4, $5,
                     $6 ? " (errors)" : "" }' >&2
    done
done

# Per round B/A; the medians of those ratios and in how many rounds B was the better one.
echo "Side by side ($(date +%F), $ROUNDS rounds of ${DURATION}s, wrk -c$CONNECTIONS$([[ $CLOSE == 1 ]] && echo " with Connection: close"), $CONFIG):"
echo "A: ${A_JAR}${JVM[A]:+ with ${JVM[A]}}${EXTRA[A]:+ + ${EXTRA[A]//$'\n'/; }}"
echo "B: ${B_JAR}${JVM[B]:+ with ${JVM[B]}}${EXTRA[B]:+ + ${EXTRA[B]//$'\n'/; }}"
awk '
    { rps[$1, $2] = $3; p99[$1, $2] = $4; cpu[$1, $2] = $5; if ($6) errors++; if ($1 > rounds) rounds = $1 }
    function median(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
        for (r = 1; r <= rounds; r++) {
            c[r] = cpu[r, "B"] / cpu[r, "A"]; q[r] = rps[r, "B"] / rps[r, "A"]; p[r] = p99[r, "B"] / p99[r, "A"]
            lessCpu += c[r] < 1; moreRps += q[r] > 1; lessP99 += p[r] < 1
        }
        printf "| B/A, median of %d rounds | ratio | rounds where B is better |\n|---|---:|---:|\n", rounds
        printf "| CPU per request | %.3f | %d |\n", median(c, rounds), lessCpu
        printf "| requests/s | %.3f | %d |\n", median(q, rounds), moreRps
        printf "| p99 | %.3f | %d |\n", median(p, rounds), lessP99
        if (errors) printf "\n%d runs had errors (non-2xx or socket errors)\n", errors
    }' "$RESULTS"
