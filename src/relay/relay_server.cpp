// RelayServer: the HTTP+SSE face of a set of FsSpools, one per room.
//
// Routes are thin: authenticate, decode and validate the request, call the room's
// FsSpool, encode the answer. Everything the spool guarantees (durable delivery,
// exactly-one claim, validated names) therefore holds over the network too, and the
// spool contract tests cover relay + HttpSpool end to end. Only durability is kept
// differently: each room's spool hands its deliveries to the relay's journal
// (journal.hpp), one shared sync for concurrent sends, inboxes written behind it.
//
// Auth has two tiers (SPEC section 6). A room token only admits new registrations; a
// registration returns a fresh agent token (32 bytes from OpenSSL's CSPRNG, hex) that is
// stored only as its SHA-256 in the agent's record. Every other route maps the bearer
// token to its agent through an in-memory index (hash → name) kept in step with the
// records, so a request costs one hash and one lookup, not a scan of the agents. Hashes
// are compared in constant time where a secret is checked against one stored value.
//
// Events: the route authenticates the stream, has its inbox watched and sends the
// headers; then the connection leaves httplib for the StreamHub (stream_hub.cpp), one
// event loop that holds every stream, sends what the inbox holds and then whatever lands
// there (one inotify watch per watched inbox, so a message reaches the stream whether
// this relay's /v1/send wrote it or another process did). Streams never claim.
//
// Threads: httplib runs every other request as one task on a pool that grows on demand
// (task_queue.hpp) up to --max-connections; a stream gives its worker back once its
// headers are out, so watchers never hold workers and never starve other requests.
//
// Hostile input: bodies over --max-body get 413 before they are read into memory, a
// request line and headers over 64 KiB in all get 400 (http_server.hpp); everything else is parsed
// with exceptions off and checked field by field; names and ids are validated before they reach a
// path. Every error is {"error": "..."}.

#include "relay/auth_cache.hpp"
#include "relay/http_server.hpp"
#include "relay/journal.hpp"
#include "relay/limiter.hpp"
#include "relay/mcp_endpoint.hpp"
#include "relay/metrics.hpp"
#include "relay/stream_hub.hpp"
#include "relay/task_queue.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/protocol/relay_api.hpp>
#include <bch/protocol/sse.hpp>
#include <bch/relay/relay_server.hpp>
#include <bch/spool/fs_spool.hpp>
#include <bch/util/atomic_file.hpp>
#include <bch/util/fd.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/httplib.hpp>
#include <bch/util/json.hpp>
#include <bch/util/log.hpp>
#include <bch/util/random.hpp>
#include <bch/util/text.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace bch::relay {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// An HTTP failure with its status; the message is the "error" of the JSON body.
struct HttpError : std::runtime_error {
  HttpError(int code, const std::string& message) : std::runtime_error(message), status(code) {}
  int status;
};

int status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::usage:
    case ErrorKind::protocol:
      return 400;
    case ErrorKind::not_found:
      return 404;
    case ErrorKind::conflict:
      return 409;
    case ErrorKind::unavailable:
      return 503;
    case ErrorKind::io:
    case ErrorKind::internal:
    case ErrorKind::interrupted:
      return 500;
  }
  return 500;
}

void reply_json(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void reply_error(httplib::Response& res, int status, const std::string& message) {
  reply_json(res, status, Json{{"error", message}});
}

Json body_object(const httplib::Request& req) {
  auto json = util::parse_json<Json>(req.body);
  if (json.is_discarded()) {
    throw HttpError(400, "request body is not valid JSON");
  }
  if (!json.is_object()) {
    throw HttpError(400, "request body must be a JSON object");
  }
  return json;
}

std::optional<std::string> string_field(const Json& body, const char* key, bool required) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) {
      throw HttpError(400, fmt::format("missing \"{}\"", key));
    }
    return std::nullopt;
  }
  if (!it->is_string()) {
    throw HttpError(400, fmt::format("\"{}\" must be a string", key));
  }
  return it->get<std::string>();
}

std::string bearer_token(const httplib::Request& req) {
  std::string header = req.get_header_value("Authorization");
  constexpr std::string_view k_prefix = "Bearer ";
  if (header.size() > k_prefix.size() && header.compare(0, k_prefix.size(), k_prefix) == 0) {
    return header.substr(k_prefix.size());
  }
  return "";
}

// A room's deliveries, claims and reads, through the relay's journal.
class RoomLog final : public spool::DeliveryLog {
public:
  RoomLog(Journal& journal, std::string room) : m_journal(journal), m_room(std::move(room)) {}
  void deliver(const std::vector<std::string>& recipients, const Message& message) override {
    m_journal.deliver(JournalDelivery{m_room, recipients, message});
  }
  void flush() override { m_journal.flush(); }
  void claimed(const std::string& agent, const std::string& id) override {
    m_journal.claimed(m_room, agent, id);
  }

private:
  Journal& m_journal;
  std::string m_room;
};

struct Room {
  // `journal`: where sends go to be durable (none: the spool syncs them itself, or with
  // --no-sync nobody does).
  Room(std::string room_id,
       fs::path dir,
       std::optional<std::string> join_hash,
       bool durable,
       Journal* journal)
      : id(std::move(room_id)), spool(std::move(dir), durable), token_hash(std::move(join_hash)) {
    if (journal != nullptr) {
      log = std::make_unique<RoomLog>(*journal, id);
      spool.set_delivery_log(log.get());
    }
  }

  std::string id;
  std::unique_ptr<RoomLog> log;  // before the spool that points to it
  spool::FsSpool spool;
  // sha256 of the join secret; none = open. A created room's is read again from
  // room.json whenever that file changes (rotation without a restart).
  std::optional<std::string> token_hash;
  std::mutex mutex;  // registration, the token index and the caches below
  // Which agent a token hash was issued to. Only a hint: every request is checked
  // against the agent's record as it is on disk (`records`), so a deleted record or
  // a removed or changed tokenHash revokes the token at once.
  std::unordered_map<std::string, std::string> agent_by_hash;
  FileValueCache records;    // tokenHash by record file
  FileValueCache room_file;  // tokenHash of room.json
};

}  // namespace

struct RelayServer::Impl {
  RelayOptions options;
  Metrics metrics;          // before the server: workers count into it until the server is gone
  std::mutex server_mutex;  // prepare() creates `server` while stop() may look at it
  std::unique_ptr<httplib::Server> server;
  int bound_port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<bool> serving{false};  // serve() was entered and has not returned
  std::mutex rooms_mutex;
  std::unordered_map<std::string, std::unique_ptr<Room>> rooms;
  // After the rooms: it writes into them until it stops. None with --no-sync.
  std::unique_ptr<Journal> journal;
  // Before the hub: its streams call into it (their auth checks) until the hub stops.
  std::unique_ptr<McpEndpoint> mcp;
  // After the rooms: it is stopped before the rooms it points into go. Made by
  // prepare(), so that its thread starts with the signal mask `bch relay` set up.
  std::unique_ptr<StreamHub> streams;

  explicit Impl(RelayOptions o) : options(std::move(o)) {}

  RequestLimits limits() {
    return RequestLimits{options.max_header,
                         options.max_body,
                         options.request_timeout,
                         options.max_connections_per_address,
                         [this] { metrics.reject(Metrics::Reject::connections); }};
  }

  TokenBuckets rate_by_address{options.rate_per_address, 2 * options.rate_per_address};
  TokenBuckets rate_by_token{options.rate_per_token, 2 * options.rate_per_token};

  // The wait before this request may be served, if the client or its token is over its
  // rate; health checks are never limited.
  std::optional<std::chrono::seconds> over_rate(const httplib::Request& req) {
    if (req.path == protocol::k_health) {
      return std::nullopt;
    }
    auto now = TokenBuckets::Clock::now();
    if (auto wait = rate_by_address.take(req.remote_addr, now)) {
      return wait;
    }
    std::string token = bearer_token(req);
    if (req.path.starts_with(protocol::k_mcp_connector)) {
      token = req.path;  // a connector's secret is its token
    }
    if (!token.empty()) {
      return rate_by_token.take(protocol::sha256_hex(token), now);
    }
    return std::nullopt;
  }

  // Creates the server and its routes (once); start() then binds it.
  void prepare();

  // Loads a room's agents into the token index.
  void open_room(Room& room) {
    for (const auto& agent : room.spool.agents()) {
      auto json = room.spool.record_json(agent.name);
      if (json && json->contains("tokenHash") && (*json)["tokenHash"].is_string()) {
        room.agent_by_hash[(*json)["tokenHash"].get<std::string>()] = agent.name;
      }
    }
  }

  Room& default_room() {
    std::lock_guard lock(rooms_mutex);
    auto& slot = rooms[protocol::k_default_room];
    if (!slot) {
      std::optional<std::string> hash;
      if (options.token) {
        hash = protocol::sha256_hex(*options.token);
      }
      fs::path dir = options.data_dir / "rooms" / protocol::k_default_room;
      util::make_private_dirs(dir);
      slot = std::make_unique<Room>(
          protocol::k_default_room, dir, hash, options.durable, journal.get());
      open_room(*slot);
    }
    return *slot;
  }

  // The room a request addresses: X-Backchannel-Room, else default (also for an
  // invalid header); a valid but unknown room is 404.
  Room& room_for(const httplib::Request& req) {
    std::string id = req.get_header_value(protocol::k_room_header);
    if (id.empty() || id == protocol::k_default_room || !protocol::is_valid_room_id(id)) {
      return default_room();
    }
    return created_room(id);
  }

  // A room by id, the default one included (404 for an unknown one).
  Room& room_by_id(const std::string& id) {
    return id == protocol::k_default_room ? default_room() : created_room(id);
  }

  // Sends are made durable by the journal, which then writes them into the rooms; what a
  // previous run left in it is written now, before anything is served.
  void open_journal() {
    Journal::Options jo;
    jo.dir = options.data_dir / "journal";
    jo.sync_root = options.data_dir;
    // Room for the largest message, escaped, many times over.
    jo.segment_bytes = std::max<std::size_t>(jo.segment_bytes, 8 * options.max_body + (1u << 20));
    journal = std::make_unique<Journal>(jo, [this](const JournalDelivery& d) {
      room_by_id(d.room).spool.write_copies(d.recipients, d.message);
    });
    std::size_t replayed = journal->recover(
        [this](const std::string& room, const std::string& agent, const std::string& id) {
          return room_by_id(room).spool.holds(agent, id);
        });
    if (replayed > 0) {
      util::info(
          fmt::format("journal: {} acknowledged deliveries written into inboxes again", replayed));
    }
    journal->start();
  }

  // A room made by POST /v1/rooms (its folder holds room.json), or 404.
  Room& created_room(const std::string& id) {
    std::lock_guard lock(rooms_mutex);
    auto it = rooms.find(id);
    if (it != rooms.end()) {
      return *it->second;
    }
    fs::path dir = options.data_dir / "rooms" / id;
    auto text = util::read_file(dir / "room.json");
    auto json = text ? util::parse_json<Json>(*text) : Json();
    if (!text || !json.is_object() || !json.contains("tokenHash")
        || !json["tokenHash"].is_string()) {
      throw HttpError(404, fmt::format("unknown room \"{}\" — create one with `bch room new`", id));
    }
    auto room = std::make_unique<Room>(
        id, dir, json["tokenHash"].get<std::string>(), options.durable, journal.get());
    open_room(*room);
    return *(rooms[id] = std::move(room));
  }

  // The tokenHash in `name`'s record as it is on disk now (a stat per call; the record
  // is read again only when it changed); nothing if the record or the field is gone.
  // Caller holds room.mutex.
  static std::optional<std::string> record_hash(Room& room, const std::string& name) {
    fs::path path = room.spool.root() / "agents" / (name + ".json");
    return room.records.get(path, [&]() -> std::optional<std::string> {
      try {
        auto json = room.spool.record_json(name);
        if (json && json->contains("tokenHash") && (*json)["tokenHash"].is_string()) {
          return (*json)["tokenHash"].get<std::string>();
        }
      } catch (const Error& e) {
        util::warn(fmt::format("agent {} refused: {}", in_quotes(name), e.what()));
      }
      return std::nullopt;
    });
  }

  // The room's join token hash, read again from room.json when it changed (a
  // room.json without one keeps the last). Caller holds room.mutex.
  std::optional<std::string> room_hash(Room& room) {
    if (room.id == protocol::k_default_room) {
      return room.token_hash;  // the relay's --token
    }
    fs::path path = options.data_dir / "rooms" / room.id / "room.json";
    auto read = room.room_file.get(path, [&]() -> std::optional<std::string> {
      auto text = util::read_file(path);
      auto json = text ? util::parse_json<Json>(*text) : Json();
      if (json.is_object() && json.contains("tokenHash") && json["tokenHash"].is_string()) {
        return json["tokenHash"].get<std::string>();
      }
      util::warn(fmt::format("room {}: room.json has no tokenHash; keeping the last one",
                             in_quotes(room.id)));
      return std::nullopt;
    });
    if (read) {
      room.token_hash = read;
    }
    return room.token_hash;
  }

  // The agent the bearer token belongs to, or 401: the token's hash must be the one in
  // the agent's record on disk right now.
  std::string authed_agent(Room& room, const httplib::Request& req) {
    std::string token = bearer_token(req);
    if (!token.empty()) {
      std::string hash = protocol::sha256_hex(token);
      std::lock_guard lock(room.mutex);
      auto it = room.agent_by_hash.find(hash);
      if (it != room.agent_by_hash.end()) {
        auto current = record_hash(room, it->second);
        if (current && protocol::equal_constant_time(*current, hash)) {
          return it->second;
        }
        room.agent_by_hash.erase(it);  // revoked: deleted, rotated or edited away
      }
    }
    throw HttpError(401, "unauthorized — agent token required (get one via /v1/register)");
  }

  // Whether `hash` is still the token on `agent`'s record (a stream lives only as long
  // as its token: revoked or rotated, it ends).
  static std::function<bool()> token_check(Room& room,
                                           const std::string& agent,
                                           const std::string& hash) {
    Room* in = &room;
    return [in, agent, hash] {
      std::lock_guard lock(in->mutex);
      auto current = record_hash(*in, agent);
      return current && protocol::equal_constant_time(*current, hash);
    };
  }

  // Connectors (ours): a secret URL under /mcp/c/ that acts as one agent, for MCP
  // clients that cannot send a header (claude.ai's "custom connector"). Each is a file
  // connectors/<sha256 of the secret>.json naming its room and agent: the secret itself
  // is never stored, and a deleted file (revoke) or a deleted agent ends it at once.
  struct ConnectorRecord {
    std::string room;
    std::string agent;
    std::string label;
    std::string created_at;
  };
  static constexpr std::size_t k_max_connectors = 20;  // per agent
  static constexpr std::size_t k_connector_id = 12;    // hex digits of the hash shown

  fs::path connector_file(const std::string& hash) const {
    return options.data_dir / "connectors" / (hash + ".json");
  }

  static std::optional<ConnectorRecord> read_connector(const fs::path& file) {
    auto text = util::read_file(file);
    auto json = text ? util::parse_json<Json>(*text) : Json();
    if (!json.is_object()) {
      return std::nullopt;
    }
    ConnectorRecord record;
    for (auto [key, field] : {std::pair{"room", &record.room},
                              std::pair{"agent", &record.agent},
                              std::pair{"label", &record.label},
                              std::pair{"createdAt", &record.created_at}}) {
      if (json.contains(key) && json[key].is_string()) {
        *field = json[key].get<std::string>();
      }
    }
    if (!protocol::is_valid_room_id(record.room) || !is_valid_agent_name(record.agent)) {
      return std::nullopt;
    }
    return record;
  }

  // The caller's connectors, by the hash of each secret.
  std::vector<std::pair<std::string, ConnectorRecord>> connectors_of(const Room& room,
                                                                     const std::string& agent) {
    std::vector<std::pair<std::string, ConnectorRecord>> mine;
    fs::path dir = options.data_dir / "connectors";
    for (const auto& name : util::list_dir(dir).value_or(std::vector<std::string>{})) {
      if (name.size() != 64 + 5 || !name.ends_with(".json")) {
        continue;
      }
      auto record = read_connector(dir / name);
      if (record && record->room == room.id && record->agent == agent) {
        mine.emplace_back(name.substr(0, 64), std::move(*record));
      }
    }
    std::sort(mine.begin(), mine.end(), [](const auto& a, const auto& b) {
      return a.second.created_at < b.second.created_at;
    });
    return mine;
  }

  static Json connector_json(const std::string& hash, const ConnectorRecord& record) {
    return Json{{"id", hash.substr(0, k_connector_id)},
                {"label", record.label},
                {"createdAt", record.created_at}};
  }

  // POST /v1/connectors {label?}: a new connector for the caller; its secret is answered
  // once.
  void handle_connector_new(const httplib::Request& req, httplib::Response& res) {
    Room& room = room_for(req);
    std::string agent = authed_agent(room, req);
    Json body = req.body.empty() ? Json::object() : body_object(req);
    std::string label = string_field(body, "label", false).value_or("");
    if (label.size() > 100 || util::sanitize(label, false) != label) {
      throw HttpError(400, "\"label\" must be at most 100 printable characters");
    }
    std::lock_guard lock(room.mutex);
    if (connectors_of(room, agent).size() >= k_max_connectors) {
      throw HttpError(409,
                      fmt::format("{} has {} connectors already — revoke one first",
                                  in_quotes(agent),
                                  k_max_connectors));
    }
    std::string secret = util::random_hex(protocol::k_token_bytes);
    std::string hash = protocol::sha256_hex(secret);
    ConnectorRecord record{room.id, agent, label, format_timestamp(now_unix_ms())};
    util::make_private_dirs(options.data_dir / "connectors");
    util::AtomicFile file(connector_file(hash), 0600);
    file.write(Json{{"room", record.room},
                    {"agent", record.agent},
                    {"label", record.label},
                    {"createdAt", record.created_at}}
                   .dump(2)
               + "\n");
    file.commit();
    Json out = connector_json(hash, record);
    out["secret"] = secret;
    out["path"] = std::string(protocol::k_mcp_connector) + secret;
    reply_json(res, 200, out);
  }

  void handle_connector_list(const httplib::Request& req, httplib::Response& res) {
    Room& room = room_for(req);
    std::string agent = authed_agent(room, req);
    Json out = Json::array();
    for (const auto& [hash, record] : connectors_of(room, agent)) {
      out.push_back(connector_json(hash, record));
    }
    reply_json(res, 200, Json{{"connectors", out}});
  }

  // POST /v1/connectors/revoke {id}: the caller's connectors whose id starts so (6+ hex
  // digits), or all of them for "all"; 404 if none.
  void handle_connector_revoke(const httplib::Request& req, httplib::Response& res) {
    Room& room = room_for(req);
    std::string agent = authed_agent(room, req);
    std::string id = *string_field(body_object(req), "id", true);
    bool all = id == "all";
    if (!all
        && (id.size() < 6 || id.size() > 64
            || id.find_first_not_of("0123456789abcdef") != std::string::npos)) {
      throw HttpError(400, "\"id\" must be 6 to 64 hex digits of a connector's id, or \"all\"");
    }
    std::lock_guard lock(room.mutex);
    std::size_t revoked = 0;
    for (const auto& [hash, record] : connectors_of(room, agent)) {
      if (all || hash.starts_with(id)) {
        std::error_code ec;
        if (fs::remove(connector_file(hash), ec)) {
          ++revoked;
        }
      }
    }
    if (revoked == 0) {
      throw HttpError(404, fmt::format("no connector of {} with id {}", in_quotes(agent), id));
    }
    reply_json(res, 200, Json{{"revoked", revoked}});
  }

  // Who a connector URL acts as, while its file and its agent's record exist.
  McpIdentity connector_identity(const httplib::Request& req) {
    std::string secret = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    std::string hash = protocol::sha256_hex(secret);
    fs::path file = connector_file(hash);
    auto record = read_connector(file);
    if (!record) {
      throw HttpError(401, "unknown or revoked connector");
    }
    Room& room = room_by_id(record->room);
    auto alive = [in = &room, file, agent = record->agent] {
      std::error_code ec;
      std::lock_guard lock(in->mutex);
      return fs::exists(file, ec) && record_hash(*in, agent).has_value();
    };
    if (!alive()) {
      throw HttpError(401, "unknown or revoked connector");
    }
    return McpIdentity{&room.spool, record->agent, "connector:" + hash, alive};
  }

  // Who an /mcp request acts as: the bearer token's agent in the room it names, or the
  // connector's.
  McpIdentity mcp_identity(const httplib::Request& req) {
    try {
      if (req.path.starts_with(protocol::k_mcp_connector)) {
        return connector_identity(req);
      }
      Room& room = room_for(req);
      std::string agent = authed_agent(room, req);
      std::string hash = protocol::sha256_hex(bearer_token(req));
      McpIdentity who;
      who.spool = &room.spool;
      who.agent = agent;
      who.credential = hash;
      who.authorised = token_check(room, agent, hash);
      return who;
    } catch (const HttpError& e) {
      throw McpRefusal{e.status, e.what()};
    } catch (const Error& e) {
      throw McpRefusal{status_for(e.kind()), e.what()};
    }
  }

  // The agent named in the path, which must be the caller's own.
  std::string own_agent(Room& room, const httplib::Request& req) {
    std::string caller = authed_agent(room, req);
    std::string named = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    check_agent_name(named);
    if (named != caller) {
      throw HttpError(403, fmt::format("token is for \"{}\", not \"{}\"", caller, named));
    }
    return caller;
  }

  void handle_rooms(const httplib::Request& req, httplib::Response& res) {
    if (options.admin_token
        && !protocol::equal_constant_time(protocol::sha256_hex(bearer_token(req)),
                                          protocol::sha256_hex(*options.admin_token))) {
      throw HttpError(401, "room creation is restricted on this relay");
    }
    std::string id = util::random_hex(12);
    std::string token = util::random_hex(protocol::k_token_bytes);
    fs::path dir = options.data_dir / "rooms" / id;
    util::make_private_dirs(dir);
    Json room{{"tokenHash", protocol::sha256_hex(token)},
              {"createdAt", format_timestamp(now_unix_ms())}};
    util::AtomicFile file(dir / "room.json", 0600);
    file.write(room.dump(2) + "\n");
    file.commit();
    reply_json(res, 200, Json{{"roomId", id}, {"roomToken", token}});
  }

  // POST /v1/rooms/<id>/rotate: a created room gets a fresh join token (returned once),
  // with the admin token or the room's current join token as the bearer. Agents already
  // in keep their own tokens; the old join token admits no one from now on.
  void handle_room_rotate(const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    if (id == protocol::k_default_room) {
      throw HttpError(400,
                      "the default room's join token is the relay's --token — change it there and "
                      "restart the relay");
    }
    if (!protocol::is_valid_room_id(id)) {
      throw HttpError(400, fmt::format("invalid room id {}", in_quotes(id)));
    }
    Room& room = created_room(id);
    std::string presented = bearer_token(req);
    std::string presented_hash = presented.empty() ? "" : protocol::sha256_hex(presented);
    std::lock_guard lock(room.mutex);
    bool admin = options.admin_token && !presented.empty()
                 && protocol::equal_constant_time(presented_hash,
                                                  protocol::sha256_hex(*options.admin_token));
    auto current = room_hash(room);
    bool holder =
        current && !presented.empty() && protocol::equal_constant_time(presented_hash, *current);
    if (!admin && !holder) {
      throw HttpError(401,
                      "unauthorized — rotating a room's join token needs the admin token or the "
                      "current join token");
    }
    std::string token = util::random_hex(protocol::k_token_bytes);
    fs::path file = options.data_dir / "rooms" / id / "room.json";
    auto text = util::read_file(file);
    Json json = text ? util::parse_json<Json>(*text) : Json::object();
    if (!json.is_object()) {
      json = Json::object();
    }
    json["tokenHash"] = protocol::sha256_hex(token);
    util::AtomicFile out(file, 0600);
    out.write(json.dump(2) + "\n");
    out.commit();
    room.token_hash = json["tokenHash"].get<std::string>();
    reply_json(res, 200, Json{{"roomId", id}, {"roomToken", token}});
  }

  // POST /v1/rooms/<id>/check (ours): does the bearer token admit new names to the room
  // (`default`: the relay's own)? `bch invite` asks before printing an invite. Nothing
  // changes; a wrong token gets 401, as a registration would.
  void handle_room_check(const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    if (!protocol::is_valid_room_id(id)) {
      throw HttpError(400, fmt::format("invalid room id {}", in_quotes(id)));
    }
    Room& room = id == protocol::k_default_room ? default_room() : created_room(id);
    std::string presented = bearer_token(req);
    std::lock_guard lock(room.mutex);
    auto join_hash = room_hash(room);
    if (join_hash
        && (presented.empty()
            || !protocol::equal_constant_time(protocol::sha256_hex(presented), *join_hash))) {
      throw HttpError(401, "unauthorized — that is not this room's join token");
    }
    reply_json(res, 200, Json{{"roomId", id}, {"open", !join_hash.has_value()}});
  }

  void handle_register(const httplib::Request& req, httplib::Response& res) {
    Room& room = room_for(req);
    Json body = body_object(req);
    std::string name = *string_field(body, "name", true);
    check_agent_name(name);
    std::string presented = bearer_token(req);
    std::string presented_hash = presented.empty() ? "" : protocol::sha256_hex(presented);

    std::lock_guard lock(room.mutex);
    if (auto existing = room.spool.record_json(name)) {
      auto it = existing->find("tokenHash");
      bool owner = !presented.empty() && it != existing->end() && it->is_string()
                   && protocol::equal_constant_time(presented_hash, it->get<std::string>());
      if (!owner) {
        throw HttpError(
            409,
            fmt::format("agent name \"{}\" is registered — present its token to re-register",
                        name));
      }
      reply_json(res, 200, spool::to_json(room.spool.register_agent(name)));
      return;
    }
    auto join_hash = room_hash(room);
    if (join_hash
        && (presented.empty() || !protocol::equal_constant_time(presented_hash, *join_hash))) {
      throw HttpError(401, "unauthorized — registration requires the room token");
    }
    auto record = room.spool.register_agent(name);
    std::string token = util::random_hex(protocol::k_token_bytes);
    std::string hash = protocol::sha256_hex(token);
    room.spool.update_record(name, [&](Json& json) {
      json["tokenHash"] = hash;
      return true;
    });
    room.agent_by_hash[hash] = name;
    Json out = spool::to_json(record);
    out["token"] = token;
    reply_json(res, 200, out);
  }

  // POST /v1/rotate: the caller's token is replaced by a fresh one, which is returned
  // once; the old one stops working at once.
  void handle_rotate(const httplib::Request& req, httplib::Response& res) {
    Room& room = room_for(req);
    std::string agent = authed_agent(room, req);
    std::string old_hash = protocol::sha256_hex(bearer_token(req));
    std::string token = util::random_hex(protocol::k_token_bytes);
    std::string hash = protocol::sha256_hex(token);
    std::lock_guard lock(room.mutex);
    bool rotated = false;
    room.spool.update_record(agent, [&](Json& json) {
      // Only if the token presented is still the one on record (no concurrent rotation).
      auto it = json.find("tokenHash");
      if (it == json.end() || !it->is_string()
          || !protocol::equal_constant_time(it->get<std::string>(), old_hash)) {
        return false;
      }
      json["tokenHash"] = hash;
      rotated = true;
      return true;
    });
    if (!rotated) {
      throw HttpError(401, "unauthorized — agent token required (get one via /v1/register)");
    }
    room.agent_by_hash.erase(old_hash);
    room.agent_by_hash[hash] = agent;
    reply_json(res, 200, Json{{"token", token}});
  }

  void handle_send(const httplib::Request& req, httplib::Response& res) {
    Room& room = room_for(req);
    std::string from = authed_agent(room, req);
    Json body = body_object(req);
    std::string to = *string_field(body, "to", true);
    std::string text = *string_field(body, "body", true);
    spool::SendOptions opts;
    if (auto priority = string_field(body, "priority", false)) {
      auto parsed = parse_priority(*priority);
      if (!parsed) {
        throw HttpError(400, "\"priority\" must be \"normal\" or \"urgent\"");
      }
      opts.priority = *parsed;
    }
    opts.scope = string_field(body, "scope", false);
    opts.thread = string_field(body, "thread", false);
    if (auto it = body.find("refs"); it != body.end() && !it->is_null()) {
      if (!it->is_array()) {
        throw HttpError(400, "\"refs\" must be an array of strings");
      }
      for (const auto& ref : *it) {
        if (!ref.is_string()) {
          throw HttpError(400, "\"refs\" must be an array of strings");
        }
        opts.refs.push_back(ref.get<std::string>());
      }
    }
    reply_json(res, 200, to_json(room.spool.send(from, to, text, opts)));
    metrics.sent();
  }

  void handle_take(const httplib::Request& req, httplib::Response& res) {
    Room& room = room_for(req);
    std::string agent = authed_agent(room, req);
    Json body = body_object(req);
    std::string id = *string_field(body, "id", true);
    check_message_id(id);
    bool keep = false;
    if (auto it = body.find("keep"); it != body.end() && !it->is_null()) {
      if (!it->is_boolean()) {
        throw HttpError(400, "\"keep\" must be true or false");
      }
      keep = it->get<bool>();
    }
    auto message = room.spool.take(agent, id, keep);
    if (message) {
      metrics.claimed();
    }
    reply_json(res, 200, Json{{"message", message ? Json(to_json(*message)) : Json(nullptr)}});
  }

  void handle_channel(const httplib::Request& req, httplib::Response& res, bool subscribe) {
    Room& room = room_for(req);
    std::string agent = authed_agent(room, req);
    std::string channel = *string_field(body_object(req), "channel", true);
    if (subscribe) {
      room.spool.subscribe(agent, channel);
    } else {
      room.spool.unsubscribe(agent, channel);
    }
    reply_json(res, 200, Json{{"ok", true}});
  }

  void handle_events(const httplib::Request& req, httplib::Response& res) {
    Room& room = room_for(req);
    std::string agent = own_agent(room, req);
    if (stopping) {
      throw HttpError(503, "relay is shutting down");
    }
    // Watched before the headers go out; the hub lists the inbox once it adopts the
    // connection, so a message landing in between is in one or both (sent once).
    auto watch = streams->watch(room.spool, agent);
    if (!watch) {
      metrics.reject(Metrics::Reject::too_many_streams);
      throw HttpError(503, "too many event streams open — try again later");
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    Room* in = &room;
    auto authorised = token_check(room, agent, protocol::sha256_hex(bearer_token(req)));
    auto adopted = std::make_shared<bool>(false);
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, in, agent, authorised, adopted, wd = *watch](std::size_t, httplib::DataSink& sink) {
          // The headers are out: the connection goes to the stream hub, and this worker
          // back to its pool.
          *adopted = hand_off_connection([this, in, agent, authorised, wd](Connection c) {
            streams->adopt(std::move(c), in->spool, agent, wd, authorised);
          });
          if (!*adopted) {
            // No connection (answer()): what the inbox holds, as one chunk, and the end.
            std::string out;
            for (const auto& m : in->spool.inbox(agent)) {
              out += protocol::encode_sse(m.id, serialize(m));
            }
            if (!out.empty()) {
              sink.write(out.data(), out.size());
            }
          }
          return false;  // ends httplib's part (and, unless adopted, the connection)
        },
        [this, adopted, wd = *watch](bool) {
          if (!*adopted) {
            streams->unwatch(wd);
          }
        });
  }

  void routes() {
    auto& s = *server;
    // Each handler runs inside this wrapper: HttpError and bch::Error become their JSON
    // answers; anything else reaches the exception handler (500).
    std::size_t body_limit = options.max_body;
    auto wrap = [body_limit](auto handler) {
      return [handler, body_limit](const httplib::Request& req, httplib::Response& res) {
        try {
          // A chunked body's raw bytes were capped as they arrived; its decoded size is
          // checked here, so every framing meets the same limit.
          if (req.body.size() > body_limit) {
            throw HttpError(413, fmt::format("request body too large (over {} bytes)", body_limit));
          }
          handler(req, res);
        } catch (const HttpError& e) {
          reply_error(res, e.status, e.what());
        } catch (const Error& e) {
          reply_error(res, status_for(e.kind()), e.what());
        }
      };
    };
    s.Get(protocol::k_health, wrap([](const httplib::Request&, httplib::Response& res) {
            reply_json(res, 200, Json{{"ok", true}, {"service", protocol::k_service}});
          }));
    s.Post(protocol::k_rooms, wrap([this](const auto& req, auto& res) { handle_rooms(req, res); }));
    s.Post(std::string(protocol::k_rooms) + "/([^/]*)/rotate",
           wrap([this](const auto& req, auto& res) { handle_room_rotate(req, res); }));
    s.Post(std::string(protocol::k_rooms) + "/([^/]*)/check",
           wrap([this](const auto& req, auto& res) { handle_room_check(req, res); }));
    s.Post(protocol::k_register,
           wrap([this](const auto& req, auto& res) { handle_register(req, res); }));
    s.Get(protocol::k_agents, wrap([this](const auto& req, auto& res) {
            Room& room = room_for(req);
            authed_agent(room, req);
            Json out = Json::array();
            for (const auto& a : room.spool.agents()) {
              out.push_back(spool::to_json(a));
            }
            reply_json(res, 200, out);
          }));
    s.Get(protocol::k_channels, wrap([this](const auto& req, auto& res) {
            Room& room = room_for(req);
            authed_agent(room, req);
            reply_json(res, 200, Json(room.spool.channels()));
          }));
    s.Post(protocol::k_subscribe,
           wrap([this](const auto& req, auto& res) { handle_channel(req, res, true); }));
    s.Post(protocol::k_unsubscribe,
           wrap([this](const auto& req, auto& res) { handle_channel(req, res, false); }));
    s.Post(protocol::k_send, wrap([this](const auto& req, auto& res) { handle_send(req, res); }));
    s.Post(protocol::k_take, wrap([this](const auto& req, auto& res) { handle_take(req, res); }));
    s.Post(protocol::k_rotate,
           wrap([this](const auto& req, auto& res) { handle_rotate(req, res); }));
    s.Get(std::string(protocol::k_inbox) + "([^/]*)", wrap([this](const auto& req, auto& res) {
            Room& room = room_for(req);
            std::string agent = own_agent(room, req);
            Json out = Json::array();
            for (const auto& m : room.spool.inbox(agent)) {
              out.push_back(to_json(m));
            }
            reply_json(res, 200, out);
          }));
    s.Get(std::string(protocol::k_events) + "([^/]*)",
          wrap([this](const auto& req, auto& res) { handle_events(req, res); }));
    s.Get("/metrics", wrap([this](const auto& req, auto& res) { handle_metrics(req, res); }));
    s.Post(protocol::k_mcp, wrap([this](const auto& req, auto& res) { mcp->post(req, res); }));
    s.Get(protocol::k_mcp, wrap([this](const auto& req, auto& res) { mcp->get(req, res); }));
    s.Delete(protocol::k_mcp, wrap([this](const auto& req, auto& res) { mcp->remove(req, res); }));
    std::string connector = std::string(protocol::k_mcp_connector) + "([0-9a-f]{64})";
    s.Post(connector, wrap([this](const auto& req, auto& res) { mcp->post(req, res); }));
    s.Get(connector, wrap([this](const auto& req, auto& res) { mcp->get(req, res); }));
    s.Delete(connector, wrap([this](const auto& req, auto& res) { mcp->remove(req, res); }));
    s.Post(protocol::k_connectors,
           wrap([this](const auto& req, auto& res) { handle_connector_new(req, res); }));
    s.Get(protocol::k_connectors,
          wrap([this](const auto& req, auto& res) { handle_connector_list(req, res); }));
    s.Post(std::string(protocol::k_connectors) + "/revoke",
           wrap([this](const auto& req, auto& res) { handle_connector_revoke(req, res); }));

    s.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, const std::exception_ptr& ep) {
          std::string what = "internal error";
          try {
            std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          util::warn(fmt::format("request failed: {}", what));
          reply_error(res, 500, "internal error");
        });
    std::size_t max_body = options.max_body;
    std::size_t max_header = options.max_header;
    auto timeout_s = std::chrono::duration<double>(options.request_timeout).count();
    // An Expect: 100-continue whose Content-Length is over the limit gets 413, not 100.
    s.set_expect_100_continue_handler(
        [max_body](const httplib::Request& req, httplib::Response& res) {
          std::string length = req.get_header_value("Content-Length");
          if (!length.empty() && std::strtoull(length.c_str(), nullptr, 10) > max_body) {
            res.status = 413;
            return 413;
          }
          return 100;
        });
    s.set_error_handler(httplib::Server::HandlerWithResponse([max_body, max_header, timeout_s](
                                                                 const httplib::Request&,
                                                                 httplib::Response& res) {
      if (res.body.empty()) {
        // A request cut off by its limits: say which.
        switch (last_request_verdict()) {
          case RequestVerdict::body_too_large:
            res.status = 413;
            break;
          case RequestVerdict::too_slow:
            reply_error(
                res, 408, fmt::format("request too slow (not whole within {:g} s)", timeout_s));
            res.set_header("Connection", "close");
            return httplib::Server::HandlerResponse::Handled;
          case RequestVerdict::headers_too_large:
          case RequestVerdict::ok:
            break;
        }
        switch (res.status) {
          case 400:
            // httplib's parser refused the request line or headers (or our cap did).
            reply_error(
                res, 400, fmt::format("malformed request, or headers over {} bytes", max_header));
            break;
          case 404:
            reply_error(res, 404, "not found");
            break;
          case 413:
            reply_error(res, 413, fmt::format("request body too large (over {} bytes)", max_body));
            break;
          default:
            reply_error(res, res.status, fmt::format("request failed with HTTP {}", res.status));
        }
      }
      return httplib::Server::HandlerResponse::Handled;
    }));
    s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      request_started() = std::chrono::steady_clock::now();
      if (auto wait = over_rate(req)) {
        reply_error(res, 429, "too many requests — slow down");
        res.set_header("Retry-After", std::to_string(std::max<long long>(1, wait->count())));
        res.set_header("Connection", "close");  // its body, if any, is not read
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      count(req, res);
      auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now()
                                                          - request_started())
                    .count();
      util::info(fmt::format("{} {} {} {:.1f}ms", req.method, loggable(req.path), res.status, ms));
    });
  }

  // A request's path as the log shows it: a connector's secret is never written down.
  static std::string loggable(const std::string& path) {
    if (path.starts_with(protocol::k_mcp_connector)) {
      return std::string(protocol::k_mcp_connector) + "(secret)";
    }
    return path;
  }

  // Counts an answered request, and why it was refused if it was.
  void count(const httplib::Request& req, const httplib::Response& res) {
    metrics.request(req.path, res.status);
    switch (res.status) {
      case 401:
        metrics.reject(Metrics::Reject::unauthorized);
        break;
      case 408:
        metrics.reject(Metrics::Reject::too_slow);
        break;
      case 413:
        metrics.reject(Metrics::Reject::body_too_large);
        break;
      case 429:
        metrics.reject(Metrics::Reject::rate);
        break;
      case 400:
        if (last_request_verdict() == RequestVerdict::headers_too_large) {
          metrics.reject(Metrics::Reject::headers_too_large);
        }
        break;
      default:
        break;
    }
  }

  // GET /metrics: the Prometheus text format, for the admin token only (a relay without
  // one has no /metrics: its counters say who uses it and how much).
  void handle_metrics(const httplib::Request& req, httplib::Response& res) {
    if (!options.admin_token
        || !protocol::equal_constant_time(protocol::sha256_hex(bearer_token(req)),
                                          protocol::sha256_hex(*options.admin_token))) {
      throw HttpError(401, "metrics need the relay's admin token (--admin-token)");
    }
    Metrics::Gauges gauges;
    gauges.streams = streams->streams();
    gauges.watched_inboxes = streams->watched_inboxes();
    {
      std::lock_guard lock(rooms_mutex);
      gauges.rooms = rooms.size();
    }
    res.status = 200;
    res.set_content(metrics.render(gauges), "text/plain; version=0.0.4; charset=utf-8");
  }

  // When the current request started: set in the pre-routing handler, read by the
  // logger, on the one thread that handles the request.
  static std::chrono::steady_clock::time_point& request_started() {
    thread_local std::chrono::steady_clock::time_point t;
    return t;
  }
};

RelayServer::RelayServer(RelayOptions options)
    : m_impl(std::make_unique<Impl>(std::move(options))) {}

RelayServer::~RelayServer() {
  stop();
}

void RelayServer::Impl::prepare() {
  std::lock_guard lock(server_mutex);
  if (server) {
    return;
  }
  auto& o = options;
  StreamHub::Limits stream_limits;
  stream_limits.keepalive = o.keepalive;
  stream_limits.max_streams = o.max_streams;
  streams = std::make_unique<StreamHub>(stream_limits);
  McpLimits mcp_limits;
  mcp_limits.allowed_origins = o.mcp_allowed_origins;
  mcp_limits.sessions_per_credential = o.mcp_sessions_per_credential;
  mcp_limits.max_sessions = o.mcp_max_sessions;
  mcp_limits.idle = o.mcp_session_idle;
  mcp = std::make_unique<McpEndpoint>(
      mcp_limits, *streams, [this](const httplib::Request& req) { return mcp_identity(req); });
  server = make_http_server(o.tls_cert, o.tls_key, limits());
  auto& s = *server;
  s.new_task_queue = [idle = o.idle_worker_timeout, max = o.max_connections] {
    GrowingTaskQueue::Sizes sizes;
    sizes.max_workers = max;
    sizes.idle_timeout = idle;
    return new GrowingTaskQueue(sizes);
  };
  s.set_payload_max_length(o.max_body);
  s.set_keep_alive_max_count(100000);
  s.set_tcp_nodelay(true);  // replies are small: never wait for a delayed ACK
  // An idle keep-alive connection holds its worker this long, and a stop waits for it.
  s.set_keep_alive_timeout(5);
  // One read waits at most a whole request's time (RequestLimits::deadline).
  s.set_read_timeout(
      std::chrono::duration_cast<std::chrono::seconds>(o.request_timeout).count(),
      std::chrono::duration_cast<std::chrono::microseconds>(o.request_timeout).count() % 1000000);
  s.set_write_timeout(30, 0);
  util::make_private_dirs(o.data_dir / "rooms");
  if (o.durable) {
    open_journal();
  }
  default_room();
  routes();
}

int RelayServer::start() {
  m_impl->prepare();
  auto& o = m_impl->options;
  auto& s = *m_impl->server;
  int port =
      o.port == 0 ? s.bind_to_any_port(o.host) : (s.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0) {
    throw Error(ErrorKind::io, fmt::format("cannot listen on {}:{}", o.host, o.port));
  }
  m_impl->bound_port = port;
  return port;
}

std::string RelayServer::answer(std::string_view request) {
  m_impl->prepare();
  return answer_in_memory(*m_impl->server, request, m_impl->limits());
}

void RelayServer::serve() {
  // `serving` is raised before `stopping` is read, and stop() raises `stopping` before it
  // reads `serving`: one of the two sees the other, so a stop is never missed.
  m_impl->serving = true;
  bool listened = true;
  if (m_impl->server && !m_impl->stopping) {
    listened = m_impl->server->listen_after_bind();
  }
  m_impl->serving = false;
  // httplib's accept loop also ends on an accept error (ENFILE, ENOBUFS, a socket shut
  // down under it): that is a failure, so that `bch relay` exits non-zero and systemd's
  // Restart=on-failure brings it back.
  if (!listened && !m_impl->stopping) {
    throw Error(ErrorKind::io, "the relay stopped accepting connections (accept failed)");
  }
}

void RelayServer::stop() {
  if (!m_impl || m_impl->stopping.exchange(true)) {
    return;
  }
  std::lock_guard lock(m_impl->server_mutex);
  if (m_impl->streams) {
    m_impl->streams->close_all();
  }
  if (m_impl->server) {
    // httplib's stop() does nothing before its listen loop runs: if serve() is just
    // starting, wait (briefly) for the loop, or stopping would be lost.
    while (m_impl->serving && !m_impl->server->is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    m_impl->server->stop();
  }
}

int RelayServer::port() const {
  return m_impl->bound_port;
}

std::string RelayServer::url() const {
  const auto& o = m_impl->options;
  std::string host = o.host.empty() ? "0.0.0.0" : o.host;
  if (host.find(':') != std::string::npos) {
    host = "[" + host + "]";
  }
  return fmt::format("{}://{}:{}", o.tls_cert ? "https" : "http", host, m_impl->bound_port);
}

}  // namespace bch::relay
