// McpEndpoint: MCP's Streamable HTTP transport on the relay, for agents without a shell
// (web and desktop connectors, remote harnesses).
//
// Every request is authenticated first: an agent token as the bearer (plus the room
// header), or a connector URL whose path holds a secret (`bch connector new`); either
// way the request acts as that agent in its room, through the same mcp::Server
// dispatcher and tool table as `bch mcp`, straight on the room's spool.
//
// Two eras, told apart per request. A legacy client (2025-03-26 to 2025-11-25) opens with
// `initialize`, which mints a session (Mcp-Session-Id, 32 random bytes) bound to the
// credential that opened it; every later request must name it (400 without, 404 for an
// unknown, expired or someone else's), DELETE ends it, GET opens its notification stream.
// A modern client (2026-07-28) sends its revision in each request's _meta and mirrors it
// and the method (and a tool's or resource's name) in headers, which must match the body
// (400, HeaderMismatch); it has no session, and opens a notification stream by POSTing
// `subscriptions/listen`.
//
// Pushes: a notification stream is a stream of the StreamHub (the relay's one event
// loop, as /v1/events), watching the agent's inbox; each message landing there becomes
// one JSON-RPC notification — notifications/resources/updated for bch://inbox when the
// client subscribed to it, else (legacy) a notifications/message log line naming the
// sender and the short id. Never the body: the client reads that with a tool, framed as
// untrusted. Nothing is replayed on connect (the inbox is the truth: bch_peek lists it).
//
// Limits: the relay's (body size, deadlines, rates per address and per token) apply
// before this code runs; sessions are capped per credential and per relay and expire
// when idle; a stream ends when its session or its credential does.

#include "relay/mcp_endpoint.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/format.hpp>
#include <bch/invite.hpp>
#include <bch/mcp/server.hpp>
#include <bch/message.hpp>
#include <bch/protocol/relay_api.hpp>
#include <bch/spool/fs_spool.hpp>
#include <bch/util/json.hpp>
#include <bch/util/log.hpp>
#include <bch/util/random.hpp>
#include <bch/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>

namespace bch::relay {

using SessionClock = std::chrono::steady_clock;

struct McpEndpoint::Session {
  std::string id;
  std::string credential;
  spool::FsSpool* spool = nullptr;
  std::string agent;
  std::string version;                   // what initialize agreed; under the endpoint's mutex
  SessionClock::time_point last_used;    // under the endpoint's mutex
  std::atomic<bool> subscribed{false};   // resources/subscribe of bch://inbox
  std::atomic<std::uint64_t> stream{0};  // the current GET stream's number (a new one wins)
};

// One request as it is being answered.
struct McpEndpoint::Call {
  const httplib::Request& req;
  httplib::Response& res;
  McpIdentity who;
  mcp::Json message;
};

namespace {

constexpr const char* k_session_header = "Mcp-Session-Id";
constexpr const char* k_version_header = "MCP-Protocol-Version";

std::string dump(const mcp::Json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void reply(httplib::Response& res, int status, const mcp::Json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

// An answer to a request that is not one (no id to answer to).
void refuse(httplib::Response& res, int status, const std::string& why) {
  reply(res, status, mcp::rpc_error(nullptr, mcp::k_invalid_request, why));
}

std::string sse(const mcp::Json& message) {
  return "data: " + dump(message) + "\n\n";
}

mcp::Json notification(const char* method, mcp::Json params) {
  return mcp::Json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

bool is_legacy_version(std::string_view version) {
  return std::any_of(std::begin(mcp::k_legacy_versions),
                     std::end(mcp::k_legacy_versions),
                     [&](const char* v) { return version == v; });
}

// A header value as the 2026-07-28 transport defines it: plain, or `=?base64?…?=`.
std::optional<std::string> header_value(const std::string& raw) {
  constexpr std::string_view k_open = "=?base64?";
  constexpr std::string_view k_close = "?=";
  if (raw.size() < k_open.size() + k_close.size() || !raw.starts_with(k_open)
      || !raw.ends_with(k_close)) {
    return raw;
  }
  std::string text = raw.substr(k_open.size(), raw.size() - k_open.size() - k_close.size());
  while (!text.empty() && text.back() == '=') {
    text.pop_back();
  }
  for (char& c : text) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return base64url_decode(text);
}

// Why a modern request's headers do not match its body (the HeaderMismatch rule), or
// nothing when they do.
std::optional<std::string> header_mismatch(const httplib::Request& req,
                                           const mcp::Json& message,
                                           const std::string& declared) {
  for (const char* mirrored : {k_version_header, "Mcp-Method", "Mcp-Name"}) {
    if (req.get_header_value_count(mirrored) > 1) {
      return fmt::format("the {} header is sent more than once", mirrored);
    }
  }
  std::string version = req.get_header_value(k_version_header);
  if (version != declared) {
    return fmt::format("the {} header ({}) does not match the request's _meta ({})",
                       k_version_header,
                       version.empty() ? "missing" : util::sanitize(version, false),
                       util::sanitize(declared, false));
  }
  std::string method = message.value("method", "");
  if (req.get_header_value("Mcp-Method") != method) {
    return "the Mcp-Method header does not match the request's method";
  }
  const char* named = method == "tools/call" || method == "prompts/get" ? "name"
                      : method == "resources/read"                      ? "uri"
                                                                        : nullptr;
  if (named != nullptr) {
    const mcp::Json& params = message["params"];
    auto body = params.find(named);
    auto header = header_value(req.get_header_value("Mcp-Name"));
    if (!req.has_header("Mcp-Name") || body == params.end() || !body->is_string() || !header
        || *header != body->get<std::string>()) {
      return fmt::format("the Mcp-Name header does not match the request's {}", named);
    }
  }
  return std::nullopt;
}

// The HTTP status of a modern request's answer (2026-07-28: unknown method 404, an
// unsupported revision 400).
int modern_status(const mcp::Json& answer) {
  if (!answer.contains("error")) {
    return 200;
  }
  int code = answer["error"].value("code", 0);
  if (code == mcp::k_method_not_found) {
    return 404;
  }
  if (code == mcp::k_unsupported_version || code == mcp::k_header_mismatch
      || code == mcp::k_invalid_request || code == mcp::k_parse_error) {
    return 400;
  }
  return 200;
}

// The news of one message for a client that did not subscribe to the inbox: who sent
// it and its short id, never the body.
mcp::Json mail_log(const Message& m) {
  return notification("notifications/message",
                      mcp::Json{{"level", "info"},
                                {"logger", "backchannel"},
                                {"data",
                                 fmt::format("new message from {} ({}) — call bch_inbox to read it",
                                             util::sanitize(m.from, false),
                                             short_id(m.id))}});
}

mcp::Json inbox_updated(mcp::Json meta) {
  mcp::Json params{{"uri", mcp::k_inbox_uri}};
  if (!meta.is_null()) {
    params["_meta"] = std::move(meta);
  }
  return notification("notifications/resources/updated", std::move(params));
}

}  // namespace

McpEndpoint::McpEndpoint(McpLimits limits, StreamHub& streams, Identify identify)
    : m_limits(std::move(limits)), m_streams(streams), m_identify(std::move(identify)) {}

McpEndpoint::~McpEndpoint() = default;

std::size_t McpEndpoint::sessions() {
  std::lock_guard lock(m_mutex);
  return m_sessions.size();
}

std::shared_ptr<McpEndpoint::Session> McpEndpoint::find(const std::string& id,
                                                        const std::string& credential) {
  std::lock_guard lock(m_mutex);
  auto it = m_sessions.find(id);
  if (it == m_sessions.end()) {
    return nullptr;
  }
  auto now = SessionClock::now();
  if (now - it->second->last_used > m_limits.idle) {
    m_sessions.erase(it);
    return nullptr;
  }
  if (it->second->credential != credential) {
    return nullptr;  // another credential's session: as if it did not exist
  }
  it->second->last_used = now;
  return it->second;
}

std::shared_ptr<McpEndpoint::Session> McpEndpoint::open(const McpIdentity& who) {
  std::lock_guard lock(m_mutex);
  auto now = SessionClock::now();
  std::shared_ptr<Session> oldest;
  std::size_t mine = 0;
  for (auto it = m_sessions.begin(); it != m_sessions.end();) {
    if (now - it->second->last_used > m_limits.idle) {
      it = m_sessions.erase(it);
      continue;
    }
    if (it->second->credential == who.credential) {
      ++mine;
      if (!oldest || it->second->last_used < oldest->last_used) {
        oldest = it->second;
      }
    }
    ++it;
  }
  if (mine >= m_limits.sessions_per_credential && oldest) {
    m_sessions.erase(oldest->id);  // its client starts again with a 404
  } else if (m_sessions.size() >= m_limits.max_sessions) {
    return nullptr;
  }
  auto session = std::make_shared<Session>();
  session->id = util::random_hex(32);
  session->credential = who.credential;
  session->spool = who.spool;
  session->agent = who.agent;
  session->last_used = now;
  m_sessions[session->id] = session;
  return session;
}

void McpEndpoint::guarded(const httplib::Request& req,
                          httplib::Response& res,
                          const std::function<void(McpIdentity)>& handler) {
  std::string origin = req.get_header_value("Origin");
  if (!origin.empty()
      && std::find(m_limits.allowed_origins.begin(), m_limits.allowed_origins.end(), origin)
             == m_limits.allowed_origins.end()) {
    refuse(res, 403, fmt::format("origin {} is not allowed here", in_quotes(origin)));
    return;
  }
  McpIdentity who;
  try {
    who = m_identify(req);
  } catch (const McpRefusal& refusal) {
    if (refusal.status == 401) {
      res.set_header("WWW-Authenticate", R"(Bearer realm="backchannel")");
    }
    refuse(res, refusal.status, refusal.message);
    return;
  }
  handler(std::move(who));
}

void McpEndpoint::post(const httplib::Request& req, httplib::Response& res) {
  guarded(req, res, [&](McpIdentity who) {
    Call call{req, res, std::move(who), mcp::Json()};
    post(call);
  });
}

void McpEndpoint::get(const httplib::Request& req, httplib::Response& res) {
  guarded(req, res, [&](McpIdentity who) {
    Call call{req, res, std::move(who), mcp::Json()};
    get(call);
  });
}

void McpEndpoint::remove(const httplib::Request& req, httplib::Response& res) {
  guarded(req, res, [&](McpIdentity who) {
    Call call{req, res, std::move(who), mcp::Json()};
    remove(call);
  });
}

void McpEndpoint::post(Call& call) {
  const httplib::Request& req = call.req;
  httplib::Response& res = call.res;
  mcp::Json& message = call.message;
  call.message = util::parse_json<mcp::Json>(req.body);
  if (message.is_discarded()) {
    reply(res, 400, mcp::rpc_error(nullptr, mcp::k_parse_error, "parse error: not valid JSON"));
    return;
  }
  if (!message.is_object()) {
    refuse(res, 400, "the body must be one JSON-RPC message (batches are not taken over HTTP)");
    return;
  }
  auto declared = mcp::declared_version(message);
  bool initialize = message.value("method", mcp::Json()) == "initialize";
  std::string header = req.get_header_value(k_version_header);
  if ((declared && !initialize) || header == mcp::k_modern_version) {
    modern(call);
  } else {
    legacy(call);
  }
}

void McpEndpoint::legacy(Call& call) {
  const httplib::Request& req = call.req;
  httplib::Response& res = call.res;
  McpIdentity& who = call.who;
  mcp::Json& message = call.message;
  std::string header = req.get_header_value(k_version_header);
  if (!header.empty() && !is_legacy_version(header)) {
    refuse(res, 400, fmt::format("unsupported {} {}", k_version_header, in_quotes(header)));
    return;
  }
  bool is_request = message.contains("id") && message.contains("method");
  std::shared_ptr<Session> session;
  if (is_request && message["method"] == "initialize") {
    session = open(who);
    if (!session) {
      refuse(res, 503, "too many MCP sessions open on this relay — try again later");
      return;
    }
  } else {
    std::string id = req.get_header_value(k_session_header);
    if (id.empty()) {
      refuse(res, 400, "an Mcp-Session-Id header is required (send initialize first)");
      return;
    }
    session = find(id, who.credential);
    if (!session) {
      refuse(res, 404, "no such MCP session (ended or expired) — initialize again");
      return;
    }
    std::string negotiated;
    {
      std::lock_guard lock(m_mutex);
      negotiated = session->version;
    }
    if (!header.empty() && header != negotiated) {
      refuse(res,
             400,
             fmt::format("{} {} is not this session's {}",
                         k_version_header,
                         in_quotes(header),
                         in_quotes(negotiated)));
      return;
    }
  }
  mcp::Session tools;
  tools.spool = [&who]() -> spool::Spool& { return *who.spool; };
  tools.agent = [&who]() -> const std::string& { return who.agent; };
  tools.subscribe_inbox = [session](bool on) { session->subscribed = on; };
  auto answer = mcp::Server(std::move(tools)).handle(message);
  if (!answer) {
    res.status = 202;  // a notification or a response: accepted, nothing to say
    return;
  }
  if (message.value("method", mcp::Json()) == "initialize" && answer->contains("result")) {
    std::string version = (*answer)["result"].value("protocolVersion", "");
    {
      std::lock_guard lock(m_mutex);
      session->version = std::move(version);
    }
    res.set_header(k_session_header, session->id);
  } else if (message.value("method", mcp::Json()) == "initialize") {
    std::lock_guard lock(m_mutex);
    m_sessions.erase(session->id);  // a refused initialize opens nothing
  }
  reply(res, 200, *answer);
}

void McpEndpoint::modern(Call& call) {
  const httplib::Request& req = call.req;
  httplib::Response& res = call.res;
  McpIdentity& who = call.who;
  mcp::Json& message = call.message;
  auto declared = mcp::declared_version(message);
  if (!declared) {
    reply(res,
          400,
          mcp::rpc_error(message.value("id", mcp::Json()),
                         mcp::k_header_mismatch,
                         fmt::format("the {} header says {} but the request has no _meta "
                                     "io.modelcontextprotocol/protocolVersion",
                                     k_version_header,
                                     mcp::k_modern_version)));
    return;
  }
  if (auto why = header_mismatch(req, message, *declared)) {
    reply(res, 400, mcp::rpc_error(message.value("id", mcp::Json()), mcp::k_header_mismatch, *why));
    return;
  }
  bool is_request = message.contains("id") && message.contains("method");
  if (is_request && message["method"] == "subscriptions/listen"
      && *declared == mcp::k_modern_version) {
    // The answer is a stream: acknowledged first, then a notification per message
    // for the resources it asked to hear of (the inbox is the only one).
    const mcp::Json& params = message.value("params", mcp::Json::object());
    mcp::Json wanted =
        params.is_object() ? params.value("notifications", mcp::Json::object()) : mcp::Json();
    bool inbox = false;
    if (wanted.is_object() && wanted.contains("resourceSubscriptions")
        && wanted["resourceSubscriptions"].is_array()) {
      for (const auto& uri : wanted["resourceSubscriptions"]) {
        inbox = inbox || uri == mcp::k_inbox_uri;
      }
    }
    mcp::Json meta{{"io.modelcontextprotocol/subscriptionId", message["id"]}};
    mcp::Json granted = mcp::Json::object();
    if (inbox) {
      granted["resourceSubscriptions"] = mcp::Json::array({mcp::k_inbox_uri});
    }
    StreamFraming framing;
    framing.replay = false;
    framing.greeting = sse(notification("notifications/subscriptions/acknowledged",
                                        mcp::Json{{"_meta", meta}, {"notifications", granted}}));
    if (inbox) {
      framing.frame = [meta](const Message&) { return sse(inbox_updated(meta)); };
    } else {
      framing.frame = [](const Message&) { return std::string(); };
    }
    stream(call, who.authorised, std::move(framing));
    return;
  }
  mcp::Session tools;
  tools.spool = [&who]() -> spool::Spool& { return *who.spool; };
  tools.agent = [&who]() -> const std::string& { return who.agent; };
  tools.subscribe_inbox = [](bool) {};  // by subscriptions/listen in this revision
  auto answer = mcp::Server(std::move(tools)).handle(message);
  if (!answer) {
    res.status = 202;
    return;
  }
  reply(res, modern_status(*answer), *answer);
}

void McpEndpoint::get(Call& call) {
  const httplib::Request& req = call.req;
  httplib::Response& res = call.res;
  McpIdentity& who = call.who;
  std::string id = req.get_header_value(k_session_header);
  if (id.empty()) {
    // The 2026-07-28 revision has no GET stream (subscriptions/listen instead).
    res.set_header("Allow", "POST");
    refuse(res, 405, "GET needs an Mcp-Session-Id (2026-07-28 clients: subscriptions/listen)");
    return;
  }
  auto session = find(id, who.credential);
  if (!session) {
    refuse(res, 404, "no such MCP session (ended or expired) — initialize again");
    return;
  }
  std::uint64_t mine = ++session->stream;  // an older GET stream of the session ends
  auto authorised = [this, session, mine, check = who.authorised] {
    if (session->stream != mine || !check()) {
      return false;
    }
    return find(session->id, session->credential) != nullptr;  // also keeps it alive
  };
  StreamFraming framing;
  framing.replay = false;
  framing.frame = [session](const Message& m) {
    return sse(session->subscribed ? inbox_updated(nullptr) : mail_log(m));
  };
  stream(call, std::move(authorised), std::move(framing));
}

void McpEndpoint::remove(Call& call) {
  const httplib::Request& req = call.req;
  httplib::Response& res = call.res;
  McpIdentity& who = call.who;
  std::string id = req.get_header_value(k_session_header);
  if (id.empty()) {
    refuse(res, 400, "DELETE needs the Mcp-Session-Id of the session to end");
    return;
  }
  auto session = find(id, who.credential);
  if (!session) {
    refuse(res, 404, "no such MCP session (ended or expired)");
    return;
  }
  std::lock_guard lock(m_mutex);
  m_sessions.erase(id);  // its stream ends at its next event or keep-alive
  res.status = 204;
}

void McpEndpoint::stream(Call& call,
                         const std::function<bool()>& authorised,
                         StreamFraming framing) {
  auto& res = call.res;
  auto watch = m_streams.watch(*call.who.spool, call.who.agent);
  if (!watch) {
    refuse(res, 503, "too many event streams open — try again later");
    return;
  }
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  auto adopted = std::make_shared<bool>(false);
  auto shared = std::make_shared<StreamFraming>(std::move(framing));
  spool::FsSpool* spool = call.who.spool;
  std::string agent = call.who.agent;
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, spool, agent, authorised, shared, adopted, wd = *watch](std::size_t,
                                                                     httplib::DataSink& sink) {
        *adopted = hand_off_connection([=, this](Connection c) {
          m_streams.adopt(std::move(c), *spool, agent, wd, authorised, *shared);
        });
        if (!*adopted && !shared->greeting.empty()) {
          sink.write(shared->greeting.data(), shared->greeting.size());  // answer(): one chunk
        }
        return false;
      },
      [this, adopted, wd = *watch](bool) {
        if (!*adopted) {
          m_streams.unwatch(wd);
        }
      });
}

}  // namespace bch::relay
