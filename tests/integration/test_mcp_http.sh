#!/usr/bin/env bash
# MCP over HTTP on the relay (SPEC 11, ours): the official MCP TypeScript SDK's client
# (StreamableHTTPClientTransport) holds a session against a real `bch relay` with an
# agent token, reaches a CLI agent and back, hears of mail on its stream within a
# second; a revoked token gets 401. Then the transport's rules as a hostile or careless
# client meets them, with curl: origins, sessions, revisions, headers, sizes.
source "$(dirname "$0")/lib.sh"

command -v node >/dev/null || fail "node is needed (scripts/install-deps.sh installs nodejs)"
[ -d "${BCH_MCP_SDK:-}/node_modules/@modelcontextprotocol/sdk" ] ||
  fail "the MCP TypeScript SDK is not in BCH_MCP_SDK=${BCH_MCP_SDK:-} (run scripts/install-deps.sh)"
sdk() { node "$(dirname "$0")/mcp_sdk_client.mjs" "$@"; }

start_relay --token team-secret --rate-per-token 0 --rate-per-address 0 \
  --mcp-allow-origin https://console.example
U=$RELAY_URL
register() {
  curl -s -X POST "$U/v1/register" -H "Authorization: Bearer team-secret" -d "{\"name\":\"$1\"}" |
    jq -r .token
}
dave=$(register dave)   # the remote agent: only an MCP client
erin=$(register erin)
invite=$("$BCH" invite --url "$U" --token team-secret | awk '{print $3}')
at cli join "$invite" --as carol --no-hooks >/dev/null  # a CLI agent in the same room

# The SDK's session: initialize, the tool table, a send that the CLI agent drains.
expect_run 0 "bch_send,bch_inbox,bch_agents,bch_subscribe,bch_peek,bch_take,bch_unsubscribe
sent" "" sh -c "node '$(dirname "$0")/mcp_sdk_client.mjs' '$U/mcp' --token '$dave' tools \
  call bch_send '{\"target\":\"@carol\",\"body\":\"from the web agent\"}' | sed 's/^sent .* to @carol\$/sent/'"
expect_contains "$(at cli drain)" "from the web agent" "a CLI agent drains what the MCP agent sent"
expect_contains "$(at cli drain)" "" "drained once"

# And back: the CLI agent answers; the MCP agent peeks, takes it by the id it saw, and
# its inbox is then empty.
at cli send @dave "back from the CLI" >/dev/null
peeked=$(sdk "$U/mcp" --token "$dave" call bch_peek '{}')
expect_contains "$peeked" "carol -> @dave" "bch_peek shows the sender from the record"
expect_contains "$peeked" "back from the CLI" "bch_peek shows the body"
short=$(sed -n 's/.*, id \([0-9a-f]\{8\}\))$/\1/p' <<<"$peeked" | head -1)
[ -n "$short" ] || fail "no short id in: $peeked"
taken=$(sdk "$U/mcp" --token "$dave" call bch_take "{\"id\":\"$short\"}" call bch_inbox '{}' read)
expect_contains "$taken" "back from the CLI" "bch_take returns the message"
expect_eq "$(tail -2 <<<"$taken")" "inbox empty
inbox empty" "taken: bch_inbox and the inbox resource are empty"

# Pushes: on the SDK's own GET stream, a log line per message before it subscribes, an
# inbox update after; then 100 sends, each heard of within a second (p99).
expect_eq "$(sdk "$U/mcp" --token "$dave" sender "$U" "$erin" @dave probe)" "notifications/message" \
  "an unsubscribed session hears of mail as a log line"
out=$(sdk "$U/mcp" --token "$dave" sender "$U" "$erin" @dave subscribe probe latency 100)
expect_eq "$(head -2 <<<"$out")" "subscribed
notifications/resources/updated" "a subscribed one as an inbox update"
p99=$(sed -n 's/^p50 .* p99 \([0-9.]*\)$/\1/p' <<<"$out")
[ -n "$p99" ] || fail "latency run: $out"
awk -v p="$p99" 'BEGIN { exit !(p < 1000) }' || fail "push p99 $p99 ms, over 1 s"
echo "push notification after a send: $(tail -1 <<<"$out") ms (100 sends)"

# A revoked token: rotated, the old one gets 401 from the SDK's first request.
new=$(curl -s -X POST "$U/v1/rotate" -H "Authorization: Bearer $dave" | jq -r .token)
expect_match "$(sdk "$U/mcp" --token "$dave" tools || true)" "^error: .*401" "a rotated-away token gets 401"
expect_eq "$(sdk "$U/mcp" --token "$new" tools | cut -d, -f1)" "bch_send" "the new token works"
dave=$new

# The transport's rules, as curl meets them.
post() {  # post <body, or @file> [curl args...]: prints "<status> <body>"
  local body=$1
  shift
  curl -s -o "$T/body" -w '%{http_code}' -X POST "$U/mcp" -H "Content-Type: application/json" \
    -H "Accept: application/json, text/event-stream" -D "$T/headers" "$@" --data-binary "$body"
  printf ' %s' "$(cat "$T/body")"
}
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
auth=(-H "Authorization: Bearer $dave")

expect_match "$(post "$init")" '^401 .*unauthorized' "no token: 401"
expect_match "$(grep -i '^WWW-Authenticate:' "$T/headers")" 'Bearer realm="backchannel"' "401 says how to authenticate"
expect_match "$(post "$init" -H "Authorization: Bearer $(printf 'f%.0s' {1..64})")" '^401 ' "a wrong token: 401"
expect_match "$(post "$init" "${auth[@]}" -H "Origin: http://evil.example")" '^403 .*not allowed' \
  "a page on another origin (DNS rebinding) gets 403"
expect_match "$(post "$init" "${auth[@]}" -H "Origin: https://console.example")" '^200 ' \
  "an allowed origin passes"
expect_match "$(post "$init" "${auth[@]}")" '^200 .*"protocolVersion":"2025-11-25"' "initialize"
sid=$(sed -n 's/^Mcp-Session-Id: \([0-9a-f]*\)\r$/\1/ip' "$T/headers")
expect_match "$sid" '^[0-9a-f]{64}$' "initialize issues a session id"
ping='{"jsonrpc":"2.0","id":2,"method":"ping"}'
expect_match "$(post "$ping" "${auth[@]}")" '^400 .*Mcp-Session-Id' "a request without its session: 400"
expect_match "$(post "$ping" "${auth[@]}" -H "Mcp-Session-Id: nope")" '^404 ' "an unknown session: 404"
expect_match "$(post "$ping" -H "Authorization: Bearer $erin" -H "Mcp-Session-Id: $sid")" '^404 ' \
  "another agent's session is not theirs: 404"
expect_eq "$(post "$ping" "${auth[@]}" -H "Mcp-Session-Id: $sid")" '200 {"jsonrpc":"2.0","id":2,"result":{}}' \
  "a request in its session"
expect_eq "$(post '{"jsonrpc":"2.0","method":"notifications/initialized"}' "${auth[@]}" -H "Mcp-Session-Id: $sid")" \
  "202 " "a notification: 202, no body"
expect_match "$(post "$ping" "${auth[@]}" -H "Mcp-Session-Id: $sid" -H "MCP-Protocol-Version: 1999-01-01")" \
  '^400 .*unsupported MCP-Protocol-Version' "an unknown revision in the header: 400"
expect_match "$(post "[$ping]" "${auth[@]}" -H "Mcp-Session-Id: $sid")" '^400 .*batches' "a batch: 400"
expect_match "$(post '{"jsonrpc":' "${auth[@]}" -H "Mcp-Session-Id: $sid")" '^400 .*-32700' "not JSON: 400"
expect_match "$(post "$(printf '[%.0s' {1..5000})" "${auth[@]}")" '^400 .*-32700' "nested 5,000 deep: 400"
{ printf '{"x":"'; head -c 1100000 /dev/zero | tr '\0' 'a'; printf '"}'; } >"$T/big"
expect_match "$(post "@$T/big" "${auth[@]}")" '^413 ' "a body over --max-body: 413"
expect_match "$(curl -s -o /dev/null -w '%{http_code}' "$U/mcp" "${auth[@]}" -H "Accept: text/event-stream")" \
  '^405$' "GET without a session: 405 (2026-07-28 has no GET stream)"
expect_match "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$U/mcp" "${auth[@]}" -H "Mcp-Session-Id: $sid")" \
  '^204$' "DELETE ends the session"
expect_match "$(post "$ping" "${auth[@]}" -H "Mcp-Session-Id: $sid")" '^404 ' "an ended session: 404"

# Sessions per token are capped: the 17th initialize retires the least recently used.
post "$init" "${auth[@]}" >/dev/null
first=$(sed -n 's/^Mcp-Session-Id: \([0-9a-f]*\)\r$/\1/ip' "$T/headers")
for _ in $(seq 16); do post "$init" "${auth[@]}" >/dev/null; done
expect_match "$(post "$ping" "${auth[@]}" -H "Mcp-Session-Id: $first")" '^404 ' "the 17th session retires the oldest"

# The 2026-07-28 revision: no session, the revision in _meta and the headers.
modern() {  # modern <method> <params-json> [curl args...]
  local method=$1 params=$2
  shift 2
  post "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"$method\",\"params\":$params}" "${auth[@]}" \
    -H "MCP-Protocol-Version: 2026-07-28" -H "Mcp-Method: $method" "$@"
}
meta='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}'
expect_match "$(modern server/discover "{$meta}")" '^200 .*"supportedVersions":\["2026-07-28"' "server/discover"
expect_match "$(modern tools/call "{\"name\":\"bch_agents\",\"arguments\":{},$meta}" -H "Mcp-Name: bch_agents")" \
  '^200 .*carol.*"resultType":"complete"' "a tool call without a session"
expect_match "$(modern tools/call "{\"name\":\"bch_agents\",\"arguments\":{},$meta}" \
  -H "Mcp-Name: =?base64?YmNoX2FnZW50cw==?=")" '^200 ' "a base64 Mcp-Name"
expect_match "$(modern tools/call "{\"name\":\"bch_agents\",\"arguments\":{},$meta}" -H "Mcp-Name: bch_send")" \
  '^400 .*-32020' "Mcp-Name unlike the body: 400 HeaderMismatch"
expect_match "$(post "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{$meta}}" "${auth[@]}" \
  -H "MCP-Protocol-Version: 2026-07-28" -H "Mcp-Method: tools/call")" '^400 .*-32020' \
  "Mcp-Method unlike the body: 400 HeaderMismatch"
expect_match "$(modern tools/list "{$meta}" -H "Mcp-Method: tools/call")" '^400 .*more than once' \
  "a mirrored header twice (a proxy might route on either): 400"
expect_match "$(modern tools/list "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2099-01-01\"}}")" \
  '^400 .*-32020' "header and _meta revisions differ: 400 HeaderMismatch"
expect_match "$(post '{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}}' \
  "${auth[@]}" -H "MCP-Protocol-Version: 2099-01-01" -H "Mcp-Method: tools/list")" \
  '^400 .*-32022.*"requested":"2099-01-01"' "an unsupported revision: 400 with the supported ones"
expect_match "$(modern prompts/list "{$meta}")" '^404 .*-32601' "an unknown method: 404"

# subscriptions/listen: acknowledged, then an inbox update for a message sent meanwhile.
curl -s -N --max-time 3 -X POST "$U/mcp" "${auth[@]}" -H "MCP-Protocol-Version: 2026-07-28" \
  -H "Mcp-Method: subscriptions/listen" -H "Accept: application/json, text/event-stream" \
  -d "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":{\"resourceSubscriptions\":[\"bch://inbox\"]},$meta}}" \
  >"$T/listen" &
BG_PIDS+=($!)
wait_for 5 grep -q acknowledged "$T/listen" || fail "no acknowledgement: $(cat "$T/listen")"
at cli send @dave "listen to this" >/dev/null
wait_for 5 grep -q resources/updated "$T/listen" || fail "no inbox update: $(cat "$T/listen")"
expect_contains "$(cat "$T/listen")" '"_meta":{"io.modelcontextprotocol/subscriptionId":"s1"}' \
  "notifications carry the subscription id"
if grep -q "listen to this" "$T/listen"; then fail "a notification carried a body"; fi

# Connectors: a secret URL for a client that cannot send a header; it acts as carol.
expect_eq "$(at cli connector list)" "no connectors — \`bch connector new\` makes one" "none yet"
out=$(at cli connector new --label claude.ai)
url=$(tail -1 <<<"$out")
id=$(sed -n 's/^connector \([0-9a-f]\{12\}\) (claude.ai) acts as "carol": .*/\1/p' <<<"$out")
expect_match "$url" "^$U/mcp/c/[0-9a-f]{64}\$" "connector new prints the URL"
[ -n "$id" ] || fail "connector new: $out"
expect_match "$(sdk "$url" call bch_send '{"target":"@dave","body":"via connector"}')" "^sent [0-9a-f]{8} to @dave$" \
  "the SDK with only the connector URL"
expect_contains "$(sdk "$U/mcp" --token "$dave" call bch_inbox '{}')" "carol -> @dave" \
  "the message is carol's"
expect_match "$(at cli connector list)" "^$id  [0-9T:.-]+Z  claude.ai\$" "connector list"
secret=${url##*/}
if grep -q "$secret" "$T/relay.log" "$T/relay.out"; then fail "the relay logged a connector's secret"; fi
expect_contains "$(cat "$T/relay.log")" "POST /mcp/c/(secret) 200" "its requests are logged without it"
expect_fail 2 "error: give a connector's id, or --all" at cli connector revoke
expect_run 0 "revoked 1 connector" "" at cli connector revoke "${id:0:8}"
expect_match "$(sdk "$url" tools || true)" "^error: .*401" "a revoked connector gets 401"
expect_match "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/mcp/c/$(printf '0%.0s' {1..64})" -d '{}')" \
  '^401$' "an unknown connector: 401"
expect_fail 1 "error: no connector of \"carol\" with id ${id:0:8}" at cli connector revoke "${id:0:8}"

# setup --remote: carol's harnesses get the relay's endpoint instead of `bch mcp`, and what
# it wrote is what the SDK needs: the entries of Claude Code and Gemini CLI, as they are,
# reach the relay as carol.
mkdir -p "$T/sh/.claude" "$T/sh/.gemini" "$T/sh/.codex"
out=$(BACKCHANNEL_SETUP_HOME=$T/sh at cli setup --remote --no-hooks)
expect_contains "$out" "[claude] registered the relay's MCP endpoint in ~/.claude.json" "claude"
expect_contains "$out" "[codex] registered the relay's MCP endpoint in ~/.codex/config.toml" "codex"
expect_contains "$out" "[remote] other MCP clients: Streamable HTTP at $U/mcp with the headers" \
  "printed for the other clients"
jq .mcpServers.backchannel "$T/sh/.claude.json" >"$T/claude-entry.json"
jq .mcpServers.backchannel "$T/sh/.gemini/settings.json" >"$T/gemini-entry.json"
at cli send @dave "to dave, from carol's CLI" >/dev/null
expect_match "$(sdk --entry "$T/claude-entry.json" call bch_send '{"target":"@dave","body":"via setup"}')" \
  "^sent [0-9a-f]{8} to @dave$" "Claude Code's entry acts as carol"
expect_contains "$(sdk --entry "$T/gemini-entry.json" call bch_agents '{}')" "carol" "Gemini CLI's entry works"
expect_contains "$(sdk "$U/mcp" --token "$dave" call bch_inbox '{}')" "carol -> @dave" "dave has carol's messages"
expect_match "$(BACKCHANNEL_SETUP_HOME=$T/sh at cli doctor | grep 'codex MCP server')" \
  "^ok +codex MCP server: .*reaches $U/mcp as \"carol\"" "doctor checks the remote entries"
at cli token rotate >/dev/null
expect_match "$(BACKCHANNEL_SETUP_HOME=$T/sh at cli doctor | grep 'claude MCP server')" \
  "^warn +claude MCP server: .*a token this home no longer holds" "doctor sees a rotated token"
expect_contains "$(BACKCHANNEL_SETUP_HOME=$T/sh at cli setup --remote --no-hooks)" \
  "[claude] updated the relay's MCP endpoint in ~/.claude.json" "setup --remote again updates it"
jq .mcpServers.backchannel "$T/sh/.claude.json" >"$T/claude-entry.json"
expect_eq "$(sdk --entry "$T/claude-entry.json" tools | cut -d, -f1)" "bch_send" "with the new token"
expect_run 0 "[claude] removed the MCP server from ~/.claude.json" "" \
  sh -c "BACKCHANNEL_SETUP_HOME='$T/sh' BACKCHANNEL_HOME='$T/cli' '$BCH' setup --undo | grep 'claude. removed the MCP'"
expect_fail 2 "error: setup --remote registers a relay's /mcp endpoint and this home is not on a relay (\`bch join\` one first)" \
  env BACKCHANNEL_SETUP_HOME="$T/sh" BACKCHANNEL_HOME="$T/local" BACKCHANNEL_AGENT=zed "$BCH" setup --remote

stop_relay
