// An MCP client built on the official TypeScript SDK (its Client and
// StreamableHTTPClientTransport, installed by scripts/install-deps.sh into $BCH_MCP_SDK),
// driven by test_mcp_http.sh against a real `bch relay`. One line of output per command.
//
//   node mcp_sdk_client.mjs <mcp-url> [--token T] [--room R] <command>...
//   node mcp_sdk_client.mjs --entry <file> <command>...   (URL and headers from an
//                                                           MCP entry `bch setup` wrote)
//
//   tools                        the tool names, comma-separated
//   call <tool> <json-args>      the tool's text ("error: …" first if it is a tool error)
//   read                         resources/read of bch://inbox
//   subscribe                    resources/subscribe to bch://inbox
//   sender <relay> <token> <to>  who `probe` and `latency` send as (POST /v1/send)
//   probe                        sends until a notification (inbox update or log line)
//                                arrives — the SDK opens its stream in the background —
//                                and prints its method
//   latency <n>                  n sends, each timed until its notification arrives:
//                                "p50 <ms> p99 <ms>"
//   end                          ends the session (DELETE)
// A failure prints "error: <message>" and exits 1 (an HTTP status on "status <n>").
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const sdk = process.env.BCH_MCP_SDK + "/node_modules/@modelcontextprotocol/sdk/dist/esm/";
const load = (path) => import(pathToFileURL(sdk + path).href);
const { Client } = await load("client/index.js");
const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");
const { ResourceUpdatedNotificationSchema, LoggingMessageNotificationSchema } = await load("types.js");

const args = process.argv.slice(2);
let url = args.shift();
let headers = {};
if (url === "--entry") {
  // An MCP server entry as a harness's settings hold it: Claude Code's {type, url,
  // headers} or Gemini CLI's {httpUrl, headers}.
  const entry = JSON.parse(readFileSync(args.shift(), "utf8"));
  url = entry.url ?? entry.httpUrl;
  headers = entry.headers ?? {};
}
while (args[0] === "--token" || args[0] === "--room") {
  const flag = args.shift();
  const value = args.shift();
  if (flag === "--token") headers.Authorization = `Bearer ${value}`;
  else headers["X-Backchannel-Room"] = value;
}

const notes = [];
let wake = () => {};
const note = (method) => {
  notes.push({ method, at: performance.now() });
  wake();
};

const client = new Client({ name: "bch-sdk-test", version: "1.0.0" });
client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => note(n.method));
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => note(n.method));
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });

const waitFor = async (count, ms) => {
  const deadline = performance.now() + ms;
  while (notes.length < count) {
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`${notes.length} of ${count} notifications within ${ms} ms`);
    await new Promise((resolve) => {
      wake = resolve;
      setTimeout(resolve, Math.min(left, 50));
    });
  }
};

let sender = null;
const send = async (body) => {
  const sent = await fetch(sender.relay + "/v1/send", {
    method: "POST",
    headers: { Authorization: `Bearer ${sender.token}`, "Content-Type": "application/json", ...headers },
    body: JSON.stringify({ to: sender.to, body }),
  });
  if (!sent.ok) throw new Error(`send answered ${sent.status}`);
};

const text = (result) =>
  (result.isError ? "error: " : "") + result.content.map((c) => c.text).join("\n");

try {
  await client.connect(transport);
  while (args.length > 0) {
    const command = args.shift();
    if (command === "tools") {
      const { tools } = await client.listTools();
      console.log(tools.map((t) => t.name).join(","));
    } else if (command === "call") {
      const name = args.shift();
      const callArgs = JSON.parse(args.shift());
      console.log(text(await client.callTool({ name, arguments: callArgs })));
    } else if (command === "read") {
      const { contents } = await client.readResource({ uri: "bch://inbox" });
      console.log(contents[0].text);
    } else if (command === "subscribe") {
      await client.subscribeResource({ uri: "bch://inbox" });
      notes.length = 0;
      console.log("subscribed");
    } else if (command === "sender") {
      sender = { relay: args.shift(), token: args.shift(), to: args.shift() };
    } else if (command === "probe") {
      for (let i = 0; notes.length === 0; i++) {
        if (i === 40) throw new Error("no notification after 40 sends");
        await send(`probe ${i}`);
        await waitFor(1, 500).catch(() => {});
      }
      console.log(notes[0].method);
      await new Promise((resolve) => setTimeout(resolve, 200));  // stragglers
      notes.length = 0;
    } else if (command === "latency") {
      const count = Number(args.shift());
      const took = [];
      for (let i = 0; i < count; i++) {
        notes.length = 0;
        const start = performance.now();
        await send(`latency ${i}`);
        await waitFor(1, 5000);
        took.push(notes[0].at - start);
      }
      took.sort((a, b) => a - b);
      const at = (q) => took[Math.min(took.length - 1, Math.ceil(q * took.length) - 1)].toFixed(1);
      console.log(`p50 ${at(0.5)} p99 ${at(0.99)}`);
    } else if (command === "end") {
      await transport.terminateSession();
      console.log("ended");
    } else {
      throw new Error(`unknown command ${command}`);
    }
  }
  await client.close();
  process.exit(0);
} catch (e) {
  const status = e.code ?? e.status;
  console.log(`error: ${e.message}${status ? ` (status ${status})` : ""}`);
  process.exit(1);
}
