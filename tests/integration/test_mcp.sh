#!/usr/bin/env bash
# `bch mcp` driven over pipes through a whole session, on the local spool and through a
# relay: initialize → initialized → tools/list → send → inbox → peek/take → malformed
# input → EOF. stdout must carry nothing but JSON-RPC lines.
source "$(dirname "$0")/lib.sh"

# rpc <json>: send one line to the server and read its one-line answer.
rpc() {
  printf '%s\n' "$1" >&"${MCP[1]}"
  local line
  IFS= read -r -t 10 line <&"${MCP[0]}" || fail "no answer to: $1"
  printf '%s' "$line"
}

# notify <json>: send a line that must not be answered (checked by the next rpc's id).
notify() { printf '%s\n' "$1" >&"${MCP[1]}"; }

session() {
  local label=$1
  coproc MCP { BACKCHANNEL_AGENT=alice "$BCH" mcp 2>"$T/mcp-$label.err"; echo "exit=$?" >"$T/mcp-$label.rc"; }
  local pid=$MCP_PID
  # If a check fails, the cleanup kills it: it would wait for the EOF this shell holds.
  BG_PIDS+=("$pid")

  local a
  a=$(rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"it","version":"1"}}}')
  expect_eq "$(jq -c '[.id, .result.protocolVersion, .result.serverInfo.name]' <<<"$a")" '[1,"2025-06-18","backchannel"]' "$label initialize"
  notify '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  a=$(rpc '{"jsonrpc":"2.0","id":"list","method":"tools/list"}')
  expect_eq "$(jq -c '[.id, [.result.tools[].name]]' <<<"$a")" \
    '["list",["bch_send","bch_inbox","bch_agents","bch_subscribe","bch_peek","bch_take","bch_unsubscribe"]]' "$label tools/list"

  a=$(rpc '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"bch_send","arguments":{"target":"@bob","body":"from the MCP side","priority":"urgent"}}}')
  expect_match "$(jq -r '.result.content[0].text' <<<"$a")" '^sent [0-9a-f]{8} to @bob$' "$label bch_send"
  expect_run 0 "*" "" as bob drain
  expect_match "$RUN_OUT" 'alice -> @bob \[URGENT\].*' "$label bob receives it"

  as bob send @alice "first for alice" >/dev/null
  as bob send @alice "second for alice" >/dev/null
  a=$(rpc '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"bch_peek","arguments":{}}}')
  expect_match "$(jq -r '.result.content[0].text' <<<"$a")" 'first for alice' "$label bch_peek"
  expect_run 0 "*" "" as alice inbox --json
  expect_eq "$(jq length <<<"$RUN_OUT")" "2" "$label peek claims nothing"
  local id8
  id8=$(jq -r '.result.content[0].text' <<<"$a" | sed -n 's/.*, id \([0-9a-f]*\))$/\1/p' | head -n1)
  a=$(rpc "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"bch_take\",\"arguments\":{\"id\":\"$id8\"}}}")
  expect_match "$(jq -r '.result.content[0].text' <<<"$a")" 'first for alice' "$label bch_take"
  a=$(rpc '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"bch_inbox","arguments":{}}}')
  expect_match "$(jq -r '.result.content[0].text' <<<"$a")" 'second for alice' "$label bch_inbox"
  a=$(rpc '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"bch_inbox","arguments":{}}}')
  expect_eq "$(jq -r '.result.content[0].text' <<<"$a")" "inbox empty" "$label bch_inbox when empty"

  # Malformed input: JSON-RPC errors, and the server keeps serving.
  a=$(rpc 'this is not json')
  expect_eq "$(jq -c '[.id, .error.code]' <<<"$a")" '[null,-32700]' "$label parse error"
  a=$(rpc '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"bch_nope","arguments":{}}}')
  expect_eq "$(jq -c '[.id, .error.code]' <<<"$a")" '[7,-32602]' "$label unknown tool"
  a=$(rpc '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"bch_send","arguments":{"target":"@bob"}}}')
  expect_eq "$(jq -c '[.id, .result.isError, .result.content[0].text]' <<<"$a")" \
    '[8,true,"missing argument \"body\""]' "$label tool error"
  a=$(rpc '{"jsonrpc":"2.0","id":9,"method":"ping"}')
  expect_eq "$a" '{"jsonrpc":"2.0","id":9,"result":{}}' "$label still serving"

  # EOF ends it cleanly.
  exec {MCP[1]}>&-
  wait_for 10 test -s "$T/mcp-$label.rc" || fail "$label: the server did not exit at EOF"
  expect_eq "$(cat "$T/mcp-$label.rc")" "exit=0" "$label exit status at EOF"
  wait "$pid" 2>/dev/null || true
}

"$BCH" init alice >/dev/null
as bob init bob >/dev/null
session local

start_relay --token room-secret
export BACKCHANNEL_HOME=$T/relay-client-alice
"$BCH" init alice --url "$RELAY_URL" --token room-secret >/dev/null
alice_home=$BACKCHANNEL_HOME
export BACKCHANNEL_HOME=$T/relay-client-bob
"$BCH" init bob --url "$RELAY_URL" --token room-secret >/dev/null
# as() runs bob in his home; the MCP server runs alice in hers.
as() { local agent=$1; shift; BACKCHANNEL_HOME=$T/relay-client-$agent BACKCHANNEL_AGENT=$agent "$BCH" "$@"; }
export BACKCHANNEL_HOME=$alice_home
session relay

# Without an identity the server still starts and answers; tools say what is missing.
export BACKCHANNEL_HOME=$T/nobody
out=$(printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bch_inbox","arguments":{}}}' | "$BCH" mcp)
expect_eq "$(jq -c '[.result.isError, .result.content[0].text]' <<<"$out")" \
  '[true,"no agent identity — run `bch init <name>` first (or set BACKCHANNEL_AGENT)"]' "no identity"
