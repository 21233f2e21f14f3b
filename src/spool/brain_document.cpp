// Brain documents (SPEC section 9): a front matter of "key: <JSON value>" lines between
// "---" lines, then markdown for people browsing the brain. Values are JSON, so a body
// with quotes, newlines or a line "---" stays on one front-matter line; the front
// matter is the truth and the markdown is never read back.

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/spool/brain_spool.hpp>
#include <bch/util/json.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace bch::spool {
namespace {

using DocJson = nlohmann::ordered_json;

std::string encode(const DocJson& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string front_matter(const DocJson& fields) {
  std::string out = "---\n";
  for (const auto& [key, value] : fields.items()) {
    out += key + ": " + encode(value) + "\n";
  }
  return out + "---\n";
}

// The front matter's fields as a JSON object; throws Error(protocol) when the text does
// not open with one.
nlohmann::json parse_front_matter(std::string_view text, const char* what) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorKind::protocol, fmt::format("not a brain {} document: {}", what, why));
  };
  if (text.substr(0, 4) != "---\n" && text.substr(0, 5) != "---\r\n") {
    throw bad("no front matter");
  }
  nlohmann::json fields = nlohmann::json::object();
  std::size_t pos = text.find('\n') + 1;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      break;
    }
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line == "---") {
      return fields;
    }
    if (line.empty()) {
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      throw bad("a front-matter line without a key");
    }
    std::string key(line.substr(0, colon));
    auto value = util::parse_json(line.substr(colon + 1));
    if (value.is_discarded()) {
      throw bad(fmt::format("the value of \"{}\" is not JSON", key));
    }
    fields[key] = std::move(value);
  }
  throw bad("the front matter is not closed");
}

}  // namespace

std::string message_document(const Message& m) {
  DocJson fields = to_json(m);
  // SPEC order: id, from, to, priority, ts, [scope], [thread], [refs], body.
  DocJson ordered;
  for (const char* key :
       {"id", "from", "to", "priority", "ts", "scope", "thread", "refs", "body"}) {
    if (fields.contains(key)) {
      ordered[key] = fields[key];
    }
  }
  return front_matter(ordered) + fmt::format("# {} → {}\n\n{}\n", m.from, m.to, m.body);
}

Message parse_message_document(std::string_view text) {
  return message_from_json(parse_front_matter(text, "message"));
}

std::string agent_document(const AgentRecord& agent) {
  DocJson fields{{"subscriptions", agent.subscriptions},
                 {"createdAt", agent.created_at},
                 {"lastSeen", agent.last_seen}};
  return front_matter(fields) + fmt::format("# Agent: {}\n", agent.name);
}

AgentRecord parse_agent_document(std::string_view text, const std::string& name) {
  auto fields = parse_front_matter(text, "agent");
  AgentRecord r;
  r.name = name;
  if (auto it = fields.find("subscriptions"); it != fields.end() && it->is_array()) {
    for (const auto& s : *it) {
      if (s.is_string()) {
        r.subscriptions.push_back(s.get<std::string>());
      }
    }
  }
  std::sort(r.subscriptions.begin(), r.subscriptions.end());
  r.subscriptions.erase(std::unique(r.subscriptions.begin(), r.subscriptions.end()),
                        r.subscriptions.end());
  auto text_field = [&](const char* key) {
    auto it = fields.find(key);
    return it != fields.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  r.created_at = text_field("createdAt");
  r.last_seen = text_field("lastSeen");
  return r;
}

}  // namespace bch::spool
