// BrainSpool: the Spool interface over the brain document API (SPEC section 9).
//
// The API has four calls (put, get, delete, list a prefix) and no transactions, so the
// guarantees come from the order of writes: the archive copy in log/ is written before
// any inbox copy, an inbox copy is deleted only by the reader that claims it (a delete
// answered 404 means another reader was first), and nothing is written while watching.
// Agent records are read-modify-write without a lock: two concurrent `sub`s of the same
// agent can lose one (the API offers nothing to serialise them).

#include "spool/http_client.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/format.hpp>
#include <bch/spool/brain_spool.hpp>
#include <bch/util/json.hpp>
#include <bch/util/log.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

namespace bch::spool {
namespace {

using BrainJson = nlohmann::json;

constexpr int k_attempts = 3;
constexpr std::int64_t k_last_seen_refresh_ms = 60'000;

// Percent-encodes a query value (unreserved characters and '/' stay).
std::string query_encode(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

void sleep_for(std::chrono::milliseconds wait) {
  if (wait.count() > 0) {
    std::this_thread::sleep_for(wait);
  }
}

struct Document {
  std::string path;
  std::optional<std::string> body;
};

// The four calls of the API, each retried as the spec says.
class BrainClient {
public:
  explicit BrainClient(const BrainEndpoint& endpoint)
      : m_endpoint(endpoint),
        m_url(parse_url(endpoint.url, "brain")),
        m_client(make_client(m_url, endpoint.connect_timeout, endpoint.read_timeout)) {}

  void put(const std::string& path, const std::string& body, const std::string& title) {
    BrainJson request{{"path", path}, {"bodyMd", body}, {"title", title}};
    call("PUT", "/v1/brain/doc", request.dump(-1, ' ', false, BrainJson::error_handler_t::replace));
  }

  std::optional<std::string> get(const std::string& path) {
    auto answer = call("GET", "/v1/brain/doc?path=" + query_encode(path), "", true);
    if (!answer) {
      return std::nullopt;
    }
    auto it = answer->find("bodyMd");
    if (!answer->is_object() || it == answer->end() || !it->is_string()) {
      throw unexpected("a document");
    }
    return it->get<std::string>();
  }

  // True if this call deleted the document; false if it was not there (404).
  bool remove(const std::string& path) {
    return call("DELETE", "/v1/brain/doc?path=" + query_encode(path), "", true).has_value();
  }

  std::vector<Document> list(const std::string& prefix) {
    auto answer = call("GET", "/v1/brain/list?prefix=" + query_encode(prefix), "");
    if (!answer || !answer->is_object() || !answer->contains("documents")
        || !(*answer)["documents"].is_array()) {
      throw unexpected("a list");
    }
    std::vector<Document> out;
    for (const auto& item : (*answer)["documents"]) {
      if (!item.is_object() || !item.contains("path") || !item["path"].is_string()) {
        continue;
      }
      Document d;
      d.path = item["path"].get<std::string>();
      if (auto it = item.find("bodyMd"); it != item.end() && it->is_string()) {
        d.body = it->get<std::string>();
      }
      out.push_back(std::move(d));
    }
    return out;
  }

  const std::string& url() const { return m_endpoint.url; }

private:
  Error unexpected(const char* what) const {
    return Error(ErrorKind::protocol,
                 fmt::format("brain {} sent something other than {}", m_endpoint.url, what));
  }

  // The token never leaves in a message, whatever an answer echoes back.
  std::string redact(std::string text) const {
    const std::string& token = m_endpoint.token;
    if (token.size() >= 4) {
      for (auto at = text.find(token); at != std::string::npos; at = text.find(token, at)) {
        text.replace(at, token.size(), "<token>");
      }
    }
    return text;
  }

  // What an error answer says: {"error":{"message":…}}, {"error":"…"}, plain text, or
  // nothing useful (null, empty, HTML…).
  std::string answer_text(int status, const std::string& body) const {
    auto json = util::parse_json<BrainJson>(body);
    if (json.is_object()) {
      auto it = json.find("error");
      if (it != json.end() && it->is_string()) {
        return redact(util::cut_chars(util::sanitize(it->get<std::string>(), false), 200));
      }
      if (it != json.end() && it->is_object() && it->contains("message")
          && (*it)["message"].is_string()) {
        return redact(
            util::cut_chars(util::sanitize((*it)["message"].get<std::string>(), false), 200));
      }
    }
    if (json.is_discarded() && body.find_first_not_of(" \t\r\n") != std::string::npos
        && body.find('<') == std::string::npos) {
      std::string line = body.substr(0, body.find('\n'));
      return redact(util::cut_chars(util::sanitize(line, false), 200));
    }
    return fmt::format("HTTP {}", status);
  }

  httplib::Result send_once(const char* method,
                            const std::string& target,
                            const std::string& body) {
    httplib::Headers headers{{"Authorization", "Bearer " + m_endpoint.token}};
    std::string full = m_url.prefix + target;
    std::string_view m = method;
    if (m == "PUT") {
      return m_client->Put(full, headers, body, "application/json");
    }
    if (m == "DELETE") {
      return m_client->Delete(full, headers);
    }
    return m_client->Get(full, headers);
  }

  static std::chrono::milliseconds ms(double count) {
    return std::chrono::milliseconds(static_cast<long long>(count));
  }

  // How long a 429 asks us to wait: Retry-After in seconds, else 1 s × attempt; at most 5 s.
  std::chrono::milliseconds rate_limit_wait(const httplib::Response& res, int attempt) const {
    double seconds = attempt;
    if (res.has_header("Retry-After")) {
      const std::string value = res.get_header_value("Retry-After");
      char* end = nullptr;
      double parsed = std::strtod(value.c_str(), &end);
      if (end != value.c_str() && std::isfinite(parsed) && parsed >= 0) {
        seconds = parsed;
      }
    }
    return ms(std::min(seconds, 5.0) * 1000);
  }

  // One call with retries. 2xx: the parsed answer (null when the body is not JSON, as
  // DELETE may answer). 404 with `missing_ok`: nothing.
  std::optional<BrainJson> call(const char* method,
                                const std::string& target,
                                const std::string& body,
                                bool missing_ok = false) {
    std::lock_guard lock(m_mutex);
    std::string last;
    bool rate_limited = false;
    for (int attempt = 1; attempt <= k_attempts; ++attempt) {
      auto result = send_once(method, target, body);
      std::chrono::milliseconds wait = ms(300.0 * attempt);
      if (!result) {
        last = describe(result.error());
        if (result.error() == httplib::Error::SSLServerVerification) {
          throw Error(ErrorKind::protocol,
                      fmt::format("brain {} refused: its TLS certificate could not be verified",
                                  m_endpoint.url));
        }
      } else if (result->status >= 200 && result->status < 300) {
        return util::parse_json<BrainJson>(result->body);
      } else if (result->status == 404 && missing_ok) {
        return std::nullopt;
      } else if (result->status == 429) {
        rate_limited = true;
        last = "rate limited (HTTP 429)";
        wait = rate_limit_wait(*result, attempt);
      } else if (result->status >= 500) {
        rate_limited = false;
        last =
            fmt::format("HTTP {}: {}", result->status, answer_text(result->status, result->body));
      } else {
        throw refused(result->status, answer_text(result->status, result->body));
      }
      if (attempt < k_attempts) {
        util::debug(fmt::format("brain {} {}: {}; retrying", method, m_endpoint.url, last));
        if (m_endpoint.wait) {
          m_endpoint.wait(wait);
        } else {
          sleep_for(wait);
        }
      }
    }
    if (rate_limited) {
      throw Error(ErrorKind::unavailable,
                  fmt::format("brain {} is rate-limiting requests (HTTP 429, {} attempts) — try "
                              "again later",
                              m_endpoint.url,
                              k_attempts));
    }
    throw Error(
        ErrorKind::unavailable,
        fmt::format(
            "brain {} unreachable after {} attempts: {}", m_endpoint.url, k_attempts, last));
  }

  Error refused(int status, const std::string& text) const {
    if (status == 401 || status == 403) {
      return Error(ErrorKind::usage,
                   fmt::format("brain {} rejected the token (HTTP {}: {}) — check UNISON_TOKEN or "
                               "`bch init <name> --brain --brain-token …`",
                               m_endpoint.url,
                               status,
                               text));
    }
    return Error(
        status == 404 ? ErrorKind::not_found : ErrorKind::protocol,
        fmt::format("brain {} refused the request (HTTP {}: {})", m_endpoint.url, status, text));
  }

  BrainEndpoint m_endpoint;
  Url m_url;
  std::mutex m_mutex;  // httplib::Client is not safe for concurrent requests
  std::unique_ptr<httplib::Client> m_client;
};

// The last path component without ".md"; empty if the path is not a document of `dir`.
std::string document_name(const std::string& path, const std::string& dir) {
  if (path.size() <= dir.size() + 3 || path.compare(0, dir.size(), dir) != 0
      || path.compare(path.size() - 3, 3, ".md") != 0) {
    return "";
  }
  std::string name = path.substr(dir.size(), path.size() - dir.size() - 3);
  return name.find('/') == std::string::npos ? name : "";
}

class BrainSpool final : public Spool {
public:
  explicit BrainSpool(const BrainEndpoint& endpoint)
      : m_endpoint(endpoint),
        m_client(endpoint),
        m_base(fmt::format("/private/backchannel/{}/", endpoint.room)) {}

  AgentRecord register_agent(const std::string& name) override {
    check_agent_name(name);
    if (auto existing = find_agent(name)) {
      return *existing;
    }
    AgentRecord r;
    r.name = name;
    r.created_at = r.last_seen = format_timestamp(now_unix_ms());
    save_agent(r);
    return r;
  }

  std::vector<AgentRecord> agents() override {
    std::vector<AgentRecord> out;
    std::string dir = m_base + "agents/";
    for (auto& doc : m_client.list(dir)) {
      std::string name = document_name(doc.path, dir);
      if (!is_valid_agent_name(name)) {
        continue;
      }
      auto body = doc.body ? doc.body : m_client.get(doc.path);
      if (!body) {
        continue;  // deleted between the list and the read
      }
      try {
        out.push_back(parse_agent_document(*body, name));
      } catch (const Error& e) {
        util::warn(fmt::format("skipping agent document {}: {}", doc.path, e.what()));
      }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
  }

  void subscribe(const std::string& agent, const std::string& channel) override {
    change_subscription(agent, normalize_channel(channel), true);
  }

  void unsubscribe(const std::string& agent, const std::string& channel) override {
    change_subscription(agent, normalize_channel(channel), false);
  }

  std::vector<std::string> channels() override {
    std::set<std::string> all;
    for (const auto& a : agents()) {
      all.insert(a.subscriptions.begin(), a.subscriptions.end());
    }
    return {all.begin(), all.end()};
  }

  Message send(const std::string& from,
               const std::string& to,
               const std::string& body,
               const SendOptions& options) override {
    check_agent_name(from);
    Target target = parse_target(to);
    if (body.empty()) {
      throw Error(ErrorKind::usage, "empty message body — nothing to send");
    }
    auto sender = find_agent(from);
    if (!sender) {
      throw unknown_agent(from);
    }
    std::vector<std::string> recipients;
    if (target.is_channel) {
      recipients = channel_recipients(agents(), target.name, from);
    } else {
      if (!find_agent(target.name)) {
        throw unknown_agent(target.name);
      }
      recipients.push_back(target.name);
    }

    Message m;
    auto fresh = new_message_id();
    m.id = fresh.id;
    m.from = from;
    m.to = to;
    m.body = body;
    m.priority = options.priority;
    m.scope = options.scope;
    m.thread = options.thread;
    m.refs = options.refs;
    m.ts = format_timestamp(fresh.unix_ms);
    std::string document = message_document(m);
    std::string title = fmt::format("{} → {}", m.from, m.to);

    // The archive first: if it fails, nobody has the message and the send failed.
    m_client.put(m_base + "log/" + m.id + ".md", document, title);
    std::vector<std::string> delivered;
    std::vector<std::string> failed;
    std::string reason;
    for (const auto& r : recipients) {
      try {
        m_client.put(inbox_path(r, m.id), document, title);
        delivered.push_back(r);
      } catch (const Error& e) {
        failed.push_back(r);
        reason = e.what();
      }
    }
    if (!failed.empty()) {
      throw partial_failure(m, delivered, failed, reason);
    }
    refresh_last_seen(*sender);
    return m;
  }

  std::vector<Message> inbox(const std::string& agent) override {
    check_agent_name(agent);
    std::string dir = inbox_dir(agent);
    auto docs = m_client.list(dir);
    if (docs.empty() && !find_agent(agent)) {
      throw unknown_agent(agent);
    }
    std::vector<Message> out;
    for (auto& doc : docs) {
      if (auto m = read_message(doc, dir)) {
        out.push_back(std::move(*m));
      }
    }
    std::sort(out.begin(), out.end(), message_before);
    return out;
  }

  bool take(const std::string& agent,
            const std::string& id,
            bool keep,
            const MessageHandler& handle) override {
    (void)keep;  // the log/ archive is the kept copy
    check_agent_name(agent);
    check_message_id(id);
    std::string path = inbox_path(agent, id);
    auto text = m_client.get(path);
    if (!text) {
      return false;
    }
    Message message = parse_message_document(*text);
    if (!m_client.remove(path)) {
      return false;  // another reader claimed it first
    }
    if (handle) {
      try {
        handle(message);
      } catch (...) {
        // Put it back, so the message is unread again.
        try {
          m_client.put(path, *text, fmt::format("{} → {}", message.from, message.to));
        } catch (const Error& e) {
          util::warn(fmt::format("could not put message {} back: {}", short_id(id), e.what()));
        }
        throw;
      }
    }
    return true;
  }

  void watch(const std::string& agent,
             const MessageHandler& on_message,
             std::stop_token stop) override {
    check_agent_name(agent);
    std::set<std::string> delivered;
    bool warned = false;
    while (!stop.stop_requested()) {
      try {
        for (const auto& m : inbox(agent)) {
          if (stop.stop_requested()) {
            return;
          }
          if (delivered.insert(m.id).second) {
            on_message(m);
          }
        }
        warned = false;
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::unavailable) {
          throw;
        }
        if (!warned) {
          util::warn(fmt::format("{}; still trying", e.what()));
          warned = true;
        }
      }
      auto until = std::chrono::steady_clock::now() + m_endpoint.poll_interval;
      while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

private:
  std::string inbox_dir(const std::string& agent) const { return m_base + "inbox/" + agent + "/"; }
  std::string inbox_path(const std::string& agent, const std::string& id) const {
    return inbox_dir(agent) + id + ".md";
  }
  std::string agent_path(const std::string& name) const {
    return m_base + "agents/" + name + ".md";
  }

  std::optional<Message> read_message(const Document& doc, const std::string& dir) {
    std::string id = document_name(doc.path, dir);
    try {
      check_message_id(id);
      auto body = doc.body ? doc.body : m_client.get(doc.path);
      if (!body) {
        return std::nullopt;  // claimed between the list and the read
      }
      Message m = parse_message_document(*body);
      if (m.id != id) {
        throw Error(ErrorKind::protocol, "its id is not its file name");
      }
      return m;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::unavailable) {
        throw;
      }
      util::warn(fmt::format("skipping brain document {}: {}", doc.path, e.what()));
      return std::nullopt;
    }
  }

  std::optional<AgentRecord> find_agent(const std::string& name) {
    auto text = m_client.get(agent_path(name));
    if (!text) {
      return std::nullopt;
    }
    return parse_agent_document(*text, name);
  }

  void save_agent(const AgentRecord& r) {
    m_client.put(agent_path(r.name), agent_document(r), "Agent: " + r.name);
  }

  void change_subscription(const std::string& agent, const std::string& channel, bool add) {
    check_agent_name(agent);
    auto r = find_agent(agent);
    if (!r) {
      throw unknown_agent(agent);
    }
    auto& subs = r->subscriptions;
    bool has = std::binary_search(subs.begin(), subs.end(), channel);
    if (has == add) {
      return;  // already so: nothing to write
    }
    if (add) {
      subs.insert(std::lower_bound(subs.begin(), subs.end(), channel), channel);
    } else {
      subs.erase(std::lower_bound(subs.begin(), subs.end(), channel));
    }
    save_agent(*r);
  }

  // lastSeen moves on sends, at most once a minute (the hook path never writes).
  void refresh_last_seen(AgentRecord r) {
    auto now = now_unix_ms();
    auto seen = parse_timestamp(r.last_seen);
    if (seen && now - *seen < k_last_seen_refresh_ms) {
      return;
    }
    r.last_seen = format_timestamp(now);
    try {
      save_agent(r);
    } catch (const Error& e) {
      util::debug(fmt::format("lastSeen of {} not refreshed: {}", r.name, e.what()));
    }
  }

  static std::string names(const std::vector<std::string>& list) {
    std::string out;
    for (const auto& n : list) {
      out += (out.empty() ? "" : ", ") + n;
    }
    return out;
  }

  static Error partial_failure(const Message& m,
                               const std::vector<std::string>& delivered,
                               const std::vector<std::string>& failed,
                               const std::string& reason) {
    if (delivered.empty()) {
      return Error(ErrorKind::unavailable,
                   fmt::format("message {} not delivered to {} (archived in log/ only): {}",
                               short_id(m.id),
                               names(failed),
                               reason));
    }
    return Error(ErrorKind::io,
                 fmt::format("message {} partly delivered: {} got it, {} did not: {}",
                             short_id(m.id),
                             names(delivered),
                             names(failed),
                             reason));
  }

  BrainEndpoint m_endpoint;
  BrainClient m_client;
  std::string m_base;
};

}  // namespace

void check_brain_room(const std::string& room) {
  bool ok = !room.empty() && room.size() <= 64
            && (std::islower(static_cast<unsigned char>(room[0])) != 0
                || std::isdigit(static_cast<unsigned char>(room[0])) != 0)
            && std::all_of(room.begin(), room.end(), [](char c) {
                 return std::islower(static_cast<unsigned char>(c)) != 0
                        || std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
               });
  if (!ok) {
    throw Error(
        ErrorKind::usage,
        fmt::format("invalid brain room {} (use a-z, 0-9, - and _; at most 64)", in_quotes(room)));
  }
}

std::unique_ptr<Spool> make_brain_spool(const BrainEndpoint& endpoint) {
  check_brain_room(endpoint.room);
  if (endpoint.token.empty()) {
    throw Error(ErrorKind::usage,
                "the brain backend needs a token — set UNISON_TOKEN or run `bch init <name> "
                "--brain --brain-token usk_…`");
  }
  return std::make_unique<BrainSpool>(endpoint);
}

}  // namespace bch::spool
