#include <bch/format.hpp>

#include <fmt/format.h>

namespace bch {
namespace {

constexpr std::size_t k_brief_body_chars = 120;

std::string header(const Message& m) {
  return fmt::format("{} -> {}{} ({}, id {})",
                     sanitize(m.from, false),
                     sanitize(m.to, false),
                     m.priority == Priority::urgent ? " [URGENT]" : "",
                     sanitize(m.ts, false),
                     short_id(m.id));
}

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

std::string sanitize(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    bool c1 = c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80
              && static_cast<unsigned char>(text[i + 1]) <= 0x9f;
    if ((c < 0x20 && !(keep_newlines && (c == '\n' || c == '\t'))) || c == 0x7f || c1) {
      out += "\xef\xbf\xbd";
      i += c1 ? 1 : 0;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string format_message(const Message& m) {
  std::string out = header(m) + "\n";
  if (m.scope) {
    out += fmt::format("  scope: {}\n", sanitize(*m.scope, false));
  }
  if (m.thread) {
    out += fmt::format("  thread: {}\n", sanitize(*m.thread, false));
  }
  if (!m.refs.empty()) {
    out += "  refs: ";
    for (std::size_t i = 0; i < m.refs.size(); ++i) {
      out += (i ? ", " : "") + sanitize(m.refs[i], false);
    }
    out += "\n";
  }
  out += sanitize(m.body, true);
  if (out.back() != '\n') {
    out += '\n';
  }
  return out;
}

std::string cut_chars(std::string text, std::size_t max_chars) {
  // Cut on a UTF-8 character boundary, counting characters, not bytes.
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80 && ++chars > max_chars) {
      text.resize(i);
      // Make room for the ellipsis within the limit.
      std::size_t j = text.size();
      while (j > 0 && (static_cast<unsigned char>(text[--j]) & 0xc0) == 0x80) {
      }
      text.resize(j);
      return text + "…";
    }
  }
  return text;
}

std::string format_brief(const Message& m) {
  std::string folded;
  bool in_space = false;
  for (char c : m.body) {
    if (is_space(c)) {
      in_space = true;
      continue;
    }
    if (in_space && !folded.empty()) {
      folded += ' ';
    }
    in_space = false;
    folded += c;
  }
  folded = sanitize(folded, false);
  folded = cut_chars(std::move(folded), k_brief_body_chars);
  return header(m) + ": " + folded;
}

std::string message_json(const Message& message) {
  return serialize(message);
}

std::string format_agent(const spool::AgentRecord& agent) {
  std::string subs;
  if (!agent.subscriptions.empty()) {
    subs = " (";
    for (std::size_t i = 0; i < agent.subscriptions.size(); ++i) {
      subs += (i ? ", " : "") + agent.subscriptions[i];
    }
    subs += ")";
  }
  return fmt::format("{}{} — last seen {}", agent.name, subs, agent.last_seen);
}

}  // namespace bch
