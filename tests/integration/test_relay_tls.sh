#!/usr/bin/env bash
# HTTPS straight from the relay (--tls-cert/--tls-key) with a self-signed certificate
# made here: trusted through SSL_CERT_FILE it works end to end, untrusted it is refused.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || exit 77

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
start_relay --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
expect_eq "$RELAY_URL" "https://127.0.0.1:$RELAY_PORT" "the relay says https"

expect_fail 1 "error: relay $RELAY_URL refused: its TLS certificate could not be verified (SSL_CERT_FILE can name a CA bundle to trust)" \
  at a init alice --url "$RELAY_URL"
[ ! -e "$T/a/config.json" ] || fail "a refused init wrote config.json"

export SSL_CERT_FILE=$T/cert.pem
at a init alice --url "$RELAY_URL" >/dev/null
at b init bob --url "$RELAY_URL" >/dev/null
at a send @bob "over TLS" >/dev/null
BACKCHANNEL_HOME=$T/b "$BCH" watch --peek >"$T/watch.out" 2>/dev/null &
BG_PIDS+=($!)
wait_for 5 grep -q "over TLS" "$T/watch.out" || fail "SSE over TLS did not deliver"
expect_run 0 "*" "" at b drain
expect_match "$RUN_OUT" "over TLS" "drain over TLS"

# Plain HTTP to the TLS port fails cleanly, and the relay keeps serving.
rc=0
curl -s "http://127.0.0.1:$RELAY_PORT/v1/health" >/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "plain HTTP was answered on the TLS port"
expect_eq "$(curl -s --cacert "$T/cert.pem" "$RELAY_URL/v1/health")" '{"ok":true,"service":"backchannel-relay"}' \
  "still serving HTTPS"
# The header cap holds over TLS too (the TLS server has its own connection path).
expect_eq "$(padded_status "$RELAY_URL/v1/health" 20 --cacert "$T/cert.pem")" "200" "20 KiB of headers"
expect_eq "$(padded_status "$RELAY_URL/v1/health" 70 --cacert "$T/cert.pem")" "400" "70 KiB of headers refused"
stop_relay
echo "ok"
