// A client that speaks to a relay exactly as the TypeScript tool's HTTP spool does (SPEC 6):
// WHATWG fetch; every request carries `content-type: application/json` (GETs included,
// with no body), `authorization: Bearer <token>` when it has a token and
// `x-backchannel-room` when it has a room, all in lower case; bodies are JSON.stringify of
// the fields that tool sends (it names the agent in subscribe/unsubscribe/take even though
// the token says who it is); an answer is read with res.json() and a non-2xx answer
// becomes its `error` field; events are split on blank lines and `data: ` lines joined.
// It is ours, written to pin that wire behaviour in a test; it is not the tool's code.
//
//   node ts_client.mjs <url> <token|-> <room|-> <op> [args...]
//
// Prints the answer as one line of JSON, or `error: <message>` on stderr with exit 1.
const [url, tokenArg, roomArg, op, ...args] = process.argv.slice(2);
const token = tokenArg === "-" ? undefined : tokenArg;
const room = roomArg === "-" ? undefined : roomArg;

function headers() {
  return {
    "content-type": "application/json",
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...(room ? { "x-backchannel-room": room } : {}),
  };
}

async function request(method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: headers(),
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const data = await res.json();
  if (!res.ok) throw new Error(data.error ?? `relay error ${res.status}`);
  return data;
}

// Reads the event stream (saying `connected` on stderr once it is open) until `count` messages arrived (or `ms` passed), as the tool's
// watch loop parses it, and returns them.
async function events(agent, count, ms) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  const got = [];
  try {
    const res = await fetch(`${url}/v1/events/${encodeURIComponent(agent)}`, {
      headers: headers(),
      signal: controller.signal,
    });
    if (!res.ok) throw new Error((await res.json()).error);
    console.error("connected");  // the test sends its live message after this line
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    while (got.length < count) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const parts = buffer.split("\n\n");
      buffer = parts.pop() ?? "";
      for (const part of parts) {
        const data = part
          .split("\n")
          .filter((l) => l.startsWith("data: "))
          .map((l) => l.slice(6))
          .join("\n");
        if (data) got.push(JSON.parse(data));
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return got;
}

const ops = {
  health: () => request("GET", "/v1/health"),
  "room-new": () => request("POST", "/v1/rooms"),
  register: (name) => request("POST", "/v1/register", { name }),
  agents: () => request("GET", "/v1/agents"),
  channels: () => request("GET", "/v1/channels"),
  subscribe: (agent, channel) => request("POST", "/v1/subscribe", { agent, channel }),
  unsubscribe: (agent, channel) => request("POST", "/v1/unsubscribe", { agent, channel }),
  // send <to> <body> [opts JSON]: opts spread into the body, as the tool does.
  send: (to, body, opts) => request("POST", "/v1/send", { to, body, ...JSON.parse(opts ?? "{}") }),
  inbox: (agent) => request("GET", `/v1/inbox/${encodeURIComponent(agent)}`),
  take: async (agent, id, keep) =>
    (await request("POST", "/v1/take", { agent, id, keep: keep === "keep" })).message,
  events: (agent, count, ms) => events(agent, Number(count), Number(ms ?? 5000)),
};

try {
  if (!ops[op]) throw new Error(`unknown op ${op}`);
  console.log(JSON.stringify(await ops[op](...args)));
} catch (err) {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
