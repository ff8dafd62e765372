#!/usr/bin/env bash
# Runs testssl.sh (Debian package testssl.sh) against a Streamgate TLS listener on 127.0.0.1 with the default TLS
# settings and a generated certificate (RSA by default, CERT_KIND=ecdsa for ECDSA), and prints a summary: protocols
# offered, cipher categories, forward secrecy, vulnerabilities rated above OK. The full JSON goes to
# $RESULTS_DIR (default /tmp/streamgate-security-results) as testssl-<kind>.json.
#
# Knobs: TLS_PORT [18443]  BACKEND_PORT [18180]  CERT_KIND [rsa]  RESULTS_DIR  TESTSSL_OPTS (extra options)
#        and those of lib.sh (STREAMGATE_JAR, BENCH_JAR, MVN_FLAGS, KEEP_TMP).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TLS_PORT=${TLS_PORT:-18443}
BACKEND_PORT=${BACKEND_PORT:-18180}
CERT_KIND=${CERT_KIND:-rsa}
RESULTS_DIR=${RESULTS_DIR:-${TMPDIR:-/tmp}/streamgate-security-results}

TESTSSL=$(command -v testssl || command -v testssl.sh || true)
[[ -n $TESTSSL ]] || die "testssl.sh missing (apt-get install testssl.sh)"
require_tools "java (apt-get install openjdk-17-jre-headless)" "openssl (apt-get install openssl)" "jq (apt-get install jq)"
ensure_jars
require_free_ports "$TLS_PORT" "$BACKEND_PORT"
make_certs

cat >"$TMP/streamgate.yaml" <<EOF
server:
  listen: "127.0.0.1:$TLS_PORT"
  drain_timeout: 1s
  tls:                      # protocols and ciphers left at their defaults: that is what is being tested
    certificates:
      - cert: "$CERT_DIR/$CERT_KIND.pem"
        key: "$CERT_DIR/$CERT_KIND.key"
upstreams:
  bench:
    endpoints: ["http://127.0.0.1:$BACKEND_PORT"]
routes:
  - path_prefix: /
    upstream: bench
EOF

start_bench_backend "$BACKEND_PORT"
start_streamgate "$TMP/streamgate.yaml" "$TLS_PORT"
PROVIDER=$(grep -oE 'TLS by [^,]+' "$TMP/streamgate.log" | head -1 || true)
log "Streamgate up (${PROVIDER:-TLS provider not logged}); running testssl.sh, this takes a few minutes"

mkdir -p "$RESULTS_DIR"
JSON=$RESULTS_DIR/testssl-$CERT_KIND.json
rm -f "$JSON"
# --ip: never resolve anything; --warnings off: no interactive questions. testssl exits non-zero when it finds
# something of MEDIUM or higher severity, so its exit code is reported, not fatal.
# shellcheck disable=SC2086
set +e
"$TESTSSL" --quiet --color 0 --warnings off --ip 127.0.0.1 --nodns none --sneaky --add-ca "$CERT_DIR/ca.pem" --jsonfile "$JSON" \
    ${TESTSSL_OPTS:-} "localhost:$TLS_PORT" >"$TMP/testssl.txt" 2>&1
TESTSSL_RC=$?
set -e
cp "$TMP/testssl.txt" "$RESULTS_DIR/testssl-$CERT_KIND.txt"
[[ -s $JSON ]] || { cat "$TMP/testssl.txt" >&2; die "testssl.sh wrote no JSON (exit $TESTSSL_RC)"; }

# testssl 3.0 and 3.2 name some findings differently (PFS/FS, cipherlist_AVERAGE/OBSOLETED): first id present wins.
finding() {
    local id value
    for id in "$@"; do
        value=$(jq -r --arg id "$id" '[.[] | select(.id == $id) | .finding] | first // empty' "$JSON")
        [[ -n $value ]] && { echo "$value"; return; }
    done
    echo "n/a"
}

{
    echo "## testssl.sh $("$TESTSSL" --version 2>/dev/null | grep -oE '3\.[0-9.]+[^ ]*' | head -1) against Streamgate ($CERT_KIND certificate, default TLS settings)"
    echo
    echo "- $(machine_line); ${PROVIDER:-provider unknown}; testssl exit code $TESTSSL_RC"
    echo
    echo "| protocol | finding |"
    echo "|---|---|"
    for id in SSLv2 SSLv3 TLS1 TLS1_1 TLS1_2 TLS1_3; do
        echo "| $id | $(finding "$id") |"
    done
    echo "| ALPN h2 | $(finding ALPN_HTTP2) |"
    echo
    echo "| cipher category | finding |"
    echo "|---|---|"
    echo "| NULL | $(finding cipherlist_NULL) |"
    echo "| aNULL | $(finding cipherlist_aNULL) |"
    echo "| EXPORT | $(finding cipherlist_EXPORT) |"
    echo "| LOW (64 bit, DES, RC4) | $(finding cipherlist_LOW) |"
    echo "| 3DES, IDEA | $(finding cipherlist_3DES_IDEA) |"
    echo "| obsoleted (CBC, no AEAD) | $(finding cipherlist_OBSOLETED cipherlist_AVERAGE) |"
    echo "| strong without forward secrecy | $(finding cipherlist_STRONG_NOFS) |"
    echo "| strong with forward secrecy | $(finding cipherlist_STRONG_FS cipherlist_STRONG) |"
    echo
    echo "- Forward secrecy: $(finding FS PFS)"
    echo "- FS ciphers: $(finding FS_ciphers PFS_ciphers)"
    echo "- FS key exchange groups: $(finding FS_ECDHE_curves PFS_ECDHE_curves)"
    echo "- TLS 1.2 server cipher order: $(finding cipherorder_TLSv1_2)"
    echo "- Negotiated by default: $(finding protocol_negotiated), $(finding cipher_negotiated)"
    echo "- Client simulations without a connection: $(jq -r '[.[] | select((.id | startswith("clientsimulation-")) and .finding == "No connection") | .id | sub("clientsimulation-"; "")] | join(", ")' "$JSON")"
    echo
    echo "Ciphers offered (hexcode, OpenSSL name, key exchange, encryption, bits):"
    echo
    jq -r '.[] | select(.id | test("^cipher_x")) | .finding' "$JSON" | awk '{print "- " $1 " " $2 " " $3 " " $4 " " $5 " " $6}'
    echo
    echo "Findings rated above OK/INFO (severity: id: finding):"
    echo
    jq -r '.[] | select(.severity | test("LOW|MEDIUM|HIGH|CRITICAL|WARN")) | "- " + .severity + ": " + .id + ": " + .finding' "$JSON" \
        | grep . || echo "- none"
} | tee "$RESULTS_DIR/testssl-$CERT_KIND-summary.md"
log "JSON: $JSON"
