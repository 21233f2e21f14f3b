// HttpSpool: the Spool interface over a relay's HTTP API (SPEC section 6).
//
// Every call is one HTTP request on a keep-alive connection, with the room header and
// the bearer token of the agent the call acts for. Tokens come from the endpoint (the
// one in config.json) or from a TokenBook shared by spools that act for several agents.
// Transport failures become Error(unavailable) naming the relay; the relay's own
// {"error": …} messages are passed through, so the CLI says the same thing whether the
// spool is local or remote.
//
// watch() holds a second connection open on /v1/events/<agent> and parses the SSE
// stream. When the connection drops (the relay restarted, a proxy timed out), it
// reconnects with backoff; the relay replays every unread message on connect, and ids
// already handed over in this watch are skipped, so each message is delivered once.
//
// TLS: see http_client.hpp.

#include "spool/http_client.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/protocol/relay_api.hpp>
#include <bch/protocol/sse.hpp>
#include <bch/spool/http_spool.hpp>
#include <bch/util/json.hpp>
#include <bch/util/log.hpp>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_set>

namespace bch::spool {
namespace {

using Json = nlohmann::ordered_json;

AgentRecord record_from(const Json& json) {
  if (!json.is_object() || !json.contains("name") || !json["name"].is_string()) {
    throw Error(ErrorKind::protocol, "relay sent an agent record without a name");
  }
  AgentRecord r;
  r.name = json["name"].get<std::string>();
  if (auto it = json.find("subscriptions"); it != json.end() && it->is_array()) {
    for (const auto& s : *it) {
      if (s.is_string()) {
        r.subscriptions.push_back(s.get<std::string>());
      }
    }
  }
  std::sort(r.subscriptions.begin(), r.subscriptions.end());
  auto str = [&](const char* key) {
    auto it = json.find(key);
    return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  r.created_at = str("createdAt");
  r.last_seen = str("lastSeen");
  if (auto token = str("token"); !token.empty()) {
    r.token = token;
  }
  return r;
}

ErrorKind kind_for_status(int status) {
  switch (status) {
    case 400:
    case 413:
      return ErrorKind::usage;
    case 404:
      return ErrorKind::not_found;
    case 409:
      return ErrorKind::conflict;
    case 408:
    case 429:
      return ErrorKind::unavailable;  // slow down and retry (exit 3)
    default:
      return status >= 500 ? ErrorKind::unavailable : ErrorKind::protocol;
  }
}

// The relay words some errors as the TypeScript relay does, for a user of a local spool;
// a relay's user fixes them with another command. Only those exact texts are reworded.
std::string for_relay_user(std::string message) {
  constexpr std::string_view k_unknown = "unknown agent \"";
  if (message.starts_with(k_unknown)) {
    auto end = message.find('"', k_unknown.size());
    std::string name =
        end == std::string::npos ? "" : message.substr(k_unknown.size(), end - k_unknown.size());
    if (!name.empty() && message == unknown_agent(name).what()) {
      return fmt::format(
          "unknown agent {} in this room — they join it with an invite: `bch invite` (or `bch "
          "room new`) prints one, they run `bch join <invite> --as {}`",
          in_quotes(name),
          name);
    }
  }
  return message;
}

// The relay's {"error": "…"} message, or a description of the status.
std::string error_message(int status, const std::string& body) {
  auto json = util::parse_json<Json>(body);
  if (json.is_object()) {
    auto it = json.find("error");
    if (it != json.end() && it->is_string()) {
      return for_relay_user(it->get<std::string>());
    }
    if (it != json.end() && it->is_object() && it->contains("message")
        && (*it)["message"].is_string()) {
      return (*it)["message"].get<std::string>();
    }
  }
  return fmt::format("relay answered HTTP {}", status);
}

class HttpSpool final : public Spool {
public:
  explicit HttpSpool(RelayEndpoint endpoint)
      : m_endpoint(std::move(endpoint)),
        m_url(parse_url(m_endpoint.url, "relay")),
        m_client(make_client(m_url, m_endpoint.connect_timeout, m_endpoint.read_timeout)) {
    if (m_endpoint.warn_plain_http) {
      warn_if_clear(m_endpoint.url);
    }
  }

  AgentRecord register_agent(const std::string& name) override {
    check_agent_name(name);
    std::optional<std::string> token = m_endpoint.token;
    if (m_endpoint.tokens) {
      if (auto own = m_endpoint.tokens->get(name)) {
        token = own;
      }
    }
    auto record = record_from(call("POST", protocol::k_register, token, Json{{"name", name}}));
    if (record.token && m_endpoint.tokens) {
      m_endpoint.tokens->set(name, *record.token);
    }
    return record;
  }

  std::vector<AgentRecord> agents() override {
    auto json = call("GET", protocol::k_agents, any_token(), std::nullopt);
    std::vector<AgentRecord> out;
    for (const auto& item : json) {
      out.push_back(record_from(item));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
  }

  void subscribe(const std::string& agent, const std::string& channel) override {
    check_agent_name(agent);
    call("POST",
         protocol::k_subscribe,
         token_for(agent),
         Json{{"channel", normalize_channel(channel)}});
  }

  void unsubscribe(const std::string& agent, const std::string& channel) override {
    check_agent_name(agent);
    call("POST",
         protocol::k_unsubscribe,
         token_for(agent),
         Json{{"channel", normalize_channel(channel)}});
  }

  std::vector<std::string> channels() override {
    auto json = call("GET", protocol::k_channels, any_token(), std::nullopt);
    std::vector<std::string> out;
    for (const auto& item : json) {
      if (item.is_string()) {
        out.push_back(item.get<std::string>());
      }
    }
    return out;
  }

  Message send(const std::string& from,
               const std::string& to,
               const std::string& body,
               const SendOptions& options) override {
    check_agent_name(from);
    parse_target(to);
    Json request{{"to", to}, {"body", body}, {"priority", to_string(options.priority)}};
    if (options.scope) {
      request["scope"] = *options.scope;
    }
    if (options.thread) {
      request["thread"] = *options.thread;
    }
    if (!options.refs.empty()) {
      request["refs"] = options.refs;
    }
    return message_from_json(call("POST", protocol::k_send, token_for(from), request));
  }

  std::vector<Message> inbox(const std::string& agent) override {
    check_agent_name(agent);
    auto json = call("GET", std::string(protocol::k_inbox) + agent, token_for(agent), std::nullopt);
    std::vector<Message> out;
    for (const auto& item : json) {
      out.push_back(message_from_json(item));
    }
    std::sort(out.begin(), out.end(), message_before);
    return out;
  }

  bool take(const std::string& agent,
            const std::string& id,
            bool keep,
            const MessageHandler& handle) override {
    check_agent_name(agent);
    check_message_id(id);
    auto json = call("POST", protocol::k_take, token_for(agent), Json{{"id", id}, {"keep", keep}});
    auto it = json.find("message");
    if (it == json.end() || it->is_null()) {
      return false;
    }
    Message message = message_from_json(*it);
    if (handle) {
      handle(message);
    }
    return true;
  }

  void watch(const std::string& agent,
             const MessageHandler& on_message,
             std::stop_token stop) override;

private:
  // The token to act as `agent`. A client with a token book but no token for the agent
  // (and no default) cannot act for it: to that client the agent is unknown.
  std::optional<std::string> token_for(const std::string& agent) const {
    if (m_endpoint.tokens) {
      if (auto token = m_endpoint.tokens->get(agent)) {
        return token;
      }
      if (!m_endpoint.token) {
        throw unknown_agent(agent);
      }
    }
    return m_endpoint.token;
  }

  std::optional<std::string> any_token() const {
    if (m_endpoint.token) {
      return m_endpoint.token;
    }
    return m_endpoint.tokens ? m_endpoint.tokens->any() : std::nullopt;
  }

  httplib::Headers headers(const std::optional<std::string>& token) const {
    httplib::Headers h;
    if (token) {
      h.emplace("Authorization", "Bearer " + *token);
    }
    if (m_endpoint.room) {
      h.emplace(protocol::k_room_header, *m_endpoint.room);
    }
    return h;
  }

  [[noreturn]] void unreachable(httplib::Error error) const {
    if (error == httplib::Error::SSLServerVerification) {
      // Not worth retrying: the certificate will not verify next time either.
      throw Error(ErrorKind::protocol,
                  fmt::format("relay {} refused: its TLS certificate could not be verified "
                              "(SSL_CERT_FILE can name a CA bundle to trust)",
                              m_endpoint.url));
    }
    throw Error(ErrorKind::unavailable,
                fmt::format("relay {} unreachable: {}", m_endpoint.url, describe(error)));
  }

  Json call(const char* method,
            const std::string& path,
            const std::optional<std::string>& token,
            const std::optional<Json>& body) {
    std::lock_guard lock(m_mutex);
    std::string full = m_url.prefix + path;
    bool post = std::string_view(method) == "POST";
    auto result =
        post ? m_client->Post(full,
                              headers(token),
                              body.value_or(Json::object())
                                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                              "application/json")
             : m_client->Get(full, headers(token));
    if (!result) {
      unreachable(result.error());
    }
    if (result->status < 200 || result->status >= 300) {
      throw Error(kind_for_status(result->status), error_message(result->status, result->body));
    }
    auto json = util::parse_json<Json>(result->body);
    if (json.is_discarded()) {
      throw Error(ErrorKind::protocol,
                  fmt::format("relay {} sent an answer that is not JSON", m_endpoint.url));
    }
    return json;
  }

  RelayEndpoint m_endpoint;
  Url m_url;
  std::mutex m_mutex;  // httplib::Client is not safe for concurrent requests
  std::unique_ptr<httplib::Client> m_client;
};

void HttpSpool::watch(const std::string& agent,
                      const MessageHandler& on_message,
                      std::stop_token stop) {
  check_agent_name(agent);
  auto client = make_client(m_url, m_endpoint.connect_timeout, std::chrono::seconds(90));
  std::stop_callback on_stop(stop, [&] { client->stop(); });
  std::unordered_set<std::string> delivered;
  std::chrono::milliseconds backoff(250);
  const std::string path = m_url.prefix + protocol::k_events + agent;
  while (!stop.stop_requested()) {
    int status = 0;
    std::string error_body;
    bool got_data = false;
    std::exception_ptr failure;
    protocol::SseParser parser([&](const protocol::SseEvent& event) {
      got_data = true;
      Message m = parse_message(event.data);
      if (delivered.insert(m.id).second) {
        on_message(m);
      }
    });
    auto result = client->Get(
        path,
        headers(token_for(agent)),
        [&](const httplib::Response& res) {
          status = res.status;
          return true;
        },
        [&](const char* data, std::size_t length) {
          if (status != 200) {
            error_body.append(data, length);
            return error_body.size() < 65536;
          }
          try {
            got_data = true;
            parser.feed(std::string_view(data, length));
          } catch (...) {
            failure = std::current_exception();
            return false;
          }
          return !stop.stop_requested();
        });
    if (failure) {
      std::rethrow_exception(failure);
    }
    if (stop.stop_requested()) {
      return;
    }
    if (result && status != 200 && status < 500) {
      throw Error(kind_for_status(status), error_message(status, error_body));
    }
    if (got_data) {
      backoff = std::chrono::milliseconds(250);
    }
    // Dropped or refused: wait, then reconnect (the relay replays what is unread).
    auto until = std::chrono::steady_clock::now() + backoff;
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
  }
}

}  // namespace

std::string mcp_url(const std::string& relay_url) {
  Url parsed = parse_url(relay_url, "relay");
  return parsed.origin + parsed.prefix + protocol::k_mcp;
}

// Says once per process when tokens would go to `url` in clear.
void warn_if_clear(const std::string& url) {
  static std::atomic<bool> warned{false};
  if (url.rfind("http://", 0) != 0
      || protocol::classify_host(protocol::host_of_url(url)) != protocol::HostReach::other
      || warned.exchange(true)) {
    return;
  }
  util::warn(
      fmt::format("{} is plain http on another machine: your token crosses the network "
                  "in clear — use https:// (or a Tailscale address)",
                  url));
}

void TokenBook::set(const std::string& agent, const std::string& token) {
  std::lock_guard lock(m_mutex);
  m_tokens[agent] = token;
}

std::optional<std::string> TokenBook::get(const std::string& agent) const {
  std::lock_guard lock(m_mutex);
  auto it = m_tokens.find(agent);
  return it == m_tokens.end() ? std::nullopt : std::optional<std::string>(it->second);
}

std::optional<std::string> TokenBook::any() const {
  std::lock_guard lock(m_mutex);
  return m_tokens.empty() ? std::nullopt : std::optional<std::string>(m_tokens.begin()->second);
}

std::unique_ptr<Spool> make_http_spool(const RelayEndpoint& endpoint) {
  return std::make_unique<HttpSpool>(endpoint);
}

namespace {

// One request outside the Spool calls (rooms, rotation, connectors): a POST of `body`,
// or a GET when it is unset. The answer's JSON object must hold `fields` as strings.
Json post_for(const std::string& url,
              const std::string& path,
              const httplib::Headers& headers,
              const std::vector<const char*>& fields,
              std::string_view what,
              const std::optional<Json>& body = Json::object()) {
  Url parsed = parse_url(url, "relay");
  warn_if_clear(url);
  auto client = make_client(parsed, std::chrono::seconds(10), std::chrono::seconds(30));
  auto result = body ? client->Post(parsed.prefix + path, headers, body->dump(), "application/json")
                     : client->Get(parsed.prefix + path, headers);
  if (!result) {
    throw Error(ErrorKind::unavailable,
                fmt::format("relay {} unreachable: {}", url, describe(result.error())));
  }
  if (result->status != 200) {
    throw Error(kind_for_status(result->status), error_message(result->status, result->body));
  }
  auto json = util::parse_json<Json>(result->body);
  bool ok = json.is_object();
  for (const char* field : fields) {
    ok = ok && json.contains(field) && json[field].is_string();
  }
  if (!ok) {
    throw Error(ErrorKind::protocol,
                fmt::format("relay {} sent an unexpected answer to {}", url, what));
  }
  return json;
}

httplib::Headers bearer(const std::optional<std::string>& token) {
  httplib::Headers h;
  if (token) {
    h.emplace("Authorization", "Bearer " + *token);
  }
  return h;
}

}  // namespace

NewRoom create_room(const std::string& url, const std::optional<std::string>& admin_token) {
  Json json = post_for(
      url, protocol::k_rooms, bearer(admin_token), {"roomId", "roomToken"}, "room creation");
  return {json["roomId"].get<std::string>(), json["roomToken"].get<std::string>()};
}

NewRoom rotate_room_token(const std::string& url,
                          const std::string& room_id,
                          const std::optional<std::string>& bearer_token) {
  Json json = post_for(url,
                       std::string(protocol::k_rooms) + "/" + room_id + "/rotate",
                       bearer(bearer_token),
                       {"roomId", "roomToken"},
                       "a room token rotation");
  return {json["roomId"].get<std::string>(), json["roomToken"].get<std::string>()};
}

bool check_room_token(const std::string& url,
                      const std::string& room_id,
                      const std::string& token) {
  Json json = post_for(url,
                       std::string(protocol::k_rooms) + "/" + room_id + "/check",
                       bearer(token),
                       {"roomId"},
                       "a room token check");
  auto open = json.find("open");
  return open != json.end() && open->is_boolean() && open->get<bool>();
}

namespace {

httplib::Headers agent_headers(const RelayEndpoint& endpoint) {
  httplib::Headers h = bearer(endpoint.token);
  if (endpoint.room) {
    h.emplace(protocol::k_room_header, *endpoint.room);
  }
  return h;
}

Connector connector_of(const Json& json) {
  return Connector{
      json["id"].get<std::string>(), json.value("label", ""), json.value("createdAt", "")};
}

}  // namespace

std::string rotate_agent_token(const RelayEndpoint& endpoint) {
  Json json = post_for(
      endpoint.url, protocol::k_rotate, agent_headers(endpoint), {"token"}, "a token rotation");
  return json["token"].get<std::string>();
}

NewConnector create_connector(const RelayEndpoint& endpoint, const std::string& label) {
  Json json = post_for(endpoint.url,
                       protocol::k_connectors,
                       agent_headers(endpoint),
                       {"id", "secret", "path"},
                       "a new connector",
                       Json{{"label", label}});
  std::string secret = json["secret"].get<std::string>();
  if (secret.size() != 64 || secret.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw Error(ErrorKind::protocol,
                fmt::format("relay {} sent an unexpected answer to a new connector", endpoint.url));
  }
  Url parsed = parse_url(endpoint.url, "relay");
  return NewConnector{connector_of(json),
                      parsed.origin + parsed.prefix + protocol::k_mcp_connector + secret};
}

std::vector<Connector> list_connectors(const RelayEndpoint& endpoint) {
  Json json = post_for(endpoint.url,
                       protocol::k_connectors,
                       agent_headers(endpoint),
                       {},
                       "a list of connectors",
                       std::nullopt);
  std::vector<Connector> out;
  if (json.contains("connectors") && json["connectors"].is_array()) {
    for (const auto& c : json["connectors"]) {
      if (c.is_object() && c.contains("id") && c["id"].is_string()) {
        out.push_back(connector_of(c));
      }
    }
  }
  return out;
}

std::size_t revoke_connectors(const RelayEndpoint& endpoint, const std::string& id) {
  Json json = post_for(endpoint.url,
                       std::string(protocol::k_connectors) + "/revoke",
                       agent_headers(endpoint),
                       {},
                       "a connector revocation",
                       Json{{"id", id}});
  return json.contains("revoked") && json["revoked"].is_number_unsigned()
             ? json["revoked"].get<std::size_t>()
             : 0;
}

}  // namespace bch::spool
