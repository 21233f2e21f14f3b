#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/message.hpp>
#include <bch/util/hex.hpp>
#include <bch/util/json.hpp>
#include <bch/util/random.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <mutex>

namespace bch {
namespace {

const nlohmann::json& required(const nlohmann::json& json, const char* key) {
  auto it = json.find(key);
  if (it == json.end()) {
    throw Error(ErrorKind::protocol, fmt::format("message has no \"{}\" field", key));
  }
  return *it;
}

std::string required_string(const nlohmann::json& json, const char* key) {
  const auto& value = required(json, key);
  if (!value.is_string()) {
    throw Error(ErrorKind::protocol, fmt::format("message field \"{}\" is not a string", key));
  }
  return value.get<std::string>();
}

std::optional<std::string> optional_string(const nlohmann::json& json, const char* key) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_string()) {
    throw Error(ErrorKind::protocol, fmt::format("message field \"{}\" is not a string", key));
  }
  return it->get<std::string>();
}

}  // namespace

const char* to_string(Priority priority) {
  return priority == Priority::urgent ? "urgent" : "normal";
}

std::optional<Priority> parse_priority(std::string_view text) {
  if (text == "normal") {
    return Priority::normal;
  }
  if (text == "urgent") {
    return Priority::urgent;
  }
  return std::nullopt;
}

nlohmann::ordered_json to_json(const Message& message) {
  nlohmann::ordered_json json;
  json["id"] = message.id;
  json["from"] = message.from;
  json["to"] = message.to;
  json["body"] = message.body;
  json["priority"] = to_string(message.priority);
  if (message.scope) {
    json["scope"] = *message.scope;
  }
  if (message.thread) {
    json["thread"] = *message.thread;
  }
  if (!message.refs.empty()) {
    json["refs"] = message.refs;
  }
  json["ts"] = message.ts;
  return json;
}

Message message_from_json(const nlohmann::json& json) {
  if (!json.is_object()) {
    throw Error(ErrorKind::protocol, "message is not a JSON object");
  }
  Message m;
  m.id = required_string(json, "id");
  if (!is_valid_message_id(m.id)) {
    throw Error(ErrorKind::protocol, fmt::format("message id {} is not valid", in_quotes(m.id)));
  }
  m.from = required_string(json, "from");
  m.to = required_string(json, "to");
  m.body = required_string(json, "body");
  m.ts = required_string(json, "ts");
  if (auto priority = optional_string(json, "priority")) {
    auto parsed = parse_priority(*priority);
    if (!parsed) {
      throw Error(ErrorKind::protocol,
                  fmt::format("message priority {} is not normal or urgent", in_quotes(*priority)));
    }
    m.priority = *parsed;
  }
  m.scope = optional_string(json, "scope");
  m.thread = optional_string(json, "thread");
  if (auto it = json.find("refs"); it != json.end() && !it->is_null()) {
    if (!it->is_array()) {
      throw Error(ErrorKind::protocol, "message field \"refs\" is not an array of strings");
    }
    for (const auto& ref : *it) {
      if (!ref.is_string()) {
        throw Error(ErrorKind::protocol, "message field \"refs\" is not an array of strings");
      }
      m.refs.push_back(ref.get<std::string>());
    }
  }
  return m;
}

std::string serialize(const Message& message) {
  // Replacing invalid UTF-8 keeps a hostile body from making the writer throw.
  return to_json(message).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Message parse_message(std::string_view text) {
  auto json = util::parse_json(text);
  if (json.is_discarded()) {
    throw Error(ErrorKind::protocol, "message is not valid JSON");
  }
  return message_from_json(json);
}

std::string short_id(const std::string& id) {
  return id.size() <= 8 ? id : id.substr(id.size() - 8);
}

bool id_matches(const std::string& id, std::string_view handle) {
  std::string_view v = id;
  std::string shown = short_id(id);
  return !handle.empty()
         && (v.starts_with(handle) || (handle.size() >= 4 && shown.starts_with(handle))
             || (handle.size() >= 8 && v.ends_with(handle)));
}

bool message_before(const Message& a, const Message& b) {
  if (a.ts != b.ts) {
    return a.ts < b.ts;
  }
  return a.id < b.id;
}

std::string make_uuid_v7(std::int64_t unix_ms, unsigned fraction) {
  std::array<unsigned char, 16> bytes{};
  util::random_bytes(bytes.data(), bytes.size());
  auto ms = static_cast<std::uint64_t>(unix_ms);
  for (int i = 0; i < 6; ++i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  }
  bytes[6] = static_cast<unsigned char>(0x70 | ((fraction >> 8) & 0x0f));  // version 7
  bytes[7] = static_cast<unsigned char>(fraction & 0xff);
  bytes[8] = static_cast<unsigned char>(0x80 | (bytes[8] & 0x3f));  // RFC variant
  std::string hex = util::to_hex(bytes.data(), bytes.size());
  return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-'
         + hex.substr(16, 4) + '-' + hex.substr(20);
}

NewId new_message_id() {
  using namespace std::chrono;
  auto ns = duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
  std::int64_t ms = ns / 1000000;
  auto fraction = static_cast<unsigned>((ns % 1000000) * 4096 / 1000000);
  // Never go backwards within a process, even if the clock does or two ids land in the
  // same quarter-microsecond.
  static std::mutex mutex;
  static std::int64_t last_ms = 0;
  static unsigned last_fraction = 0;
  std::lock_guard lock(mutex);
  if (ms < last_ms || (ms == last_ms && fraction <= last_fraction)) {
    ms = last_ms;
    fraction = last_fraction + 1;
    if (fraction > 0xfff) {
      ++ms;
      fraction = 0;
    }
  }
  last_ms = ms;
  last_fraction = fraction;
  return {make_uuid_v7(ms, fraction), ms};
}

std::string format_timestamp(std::int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                     utc.tm_year + 1900,
                     utc.tm_mon + 1,
                     utc.tm_mday,
                     utc.tm_hour,
                     utc.tm_min,
                     utc.tm_sec,
                     unix_ms % 1000);
}

std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  std::tm utc{};
  int year = 0;
  int month = 0;
  int millis = 0;
  char tail[4] = {};
  std::string copy(text);
  int fields = std::sscanf(copy.c_str(),
                           "%4d-%2d-%2dT%2d:%2d:%2d.%3d%1s",
                           &year,
                           &month,
                           &utc.tm_mday,
                           &utc.tm_hour,
                           &utc.tm_min,
                           &utc.tm_sec,
                           &millis,
                           tail);
  if (fields < 6) {
    return std::nullopt;
  }
  utc.tm_year = year - 1900;
  utc.tm_mon = month - 1;
  std::time_t seconds = timegm(&utc);
  if (seconds == static_cast<std::time_t>(-1)) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(seconds) * 1000 + (fields >= 7 ? millis : 0);
}

std::int64_t now_unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string prepare_body(std::string body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) {
    body.pop_back();
  }
  if (body.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
    throw Error(ErrorKind::usage, "empty message body — nothing to send");
  }
  if (body.size() > k_max_body_bytes) {
    throw Error(ErrorKind::usage, "message body over 1 MiB — send a file path with --ref instead");
  }
  return body;
}

}  // namespace bch
