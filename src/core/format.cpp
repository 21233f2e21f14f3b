#include <bch/address.hpp>
#include <bch/format.hpp>

#include <fmt/format.h>

namespace bch {
namespace {

constexpr std::size_t k_brief_body_chars = 120;
// Routing hints and references are short; a planted one is cut so the record's lines
// stay a few lines whatever the message file holds.
constexpr std::size_t k_meta_chars = 200;

using util::sanitize;

// A name from a record as shown: as it is when it is a valid name, else quoted and
// escaped, so that a planted "from" cannot carry the rest of a fake header.
std::string shown_name(std::string_view name, bool target) {
  std::string_view bare = name;
  if (target && !bare.empty() && (bare.front() == '@' || bare.front() == '#')) {
    bare.remove_prefix(1);
  }
  return is_valid_agent_name(bare) ? std::string(name) : sanitize(in_quotes(name), false);
}

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

// The header and the record's optional lines.
std::string head(const Message& m, std::string_view room) {
  std::string out = format_header(m, room) + "\n";
  auto meta = [](std::string_view text) {
    return util::cut_chars(sanitize(text.substr(0, 4 * k_meta_chars), false), k_meta_chars);
  };
  if (m.scope) {
    out += fmt::format("  scope: {}\n", meta(*m.scope));
  }
  if (m.thread) {
    out += fmt::format("  thread: {}\n", meta(*m.thread));
  }
  if (!m.refs.empty()) {
    std::string refs;
    for (std::size_t i = 0; i < m.refs.size() && refs.size() < 8 * k_meta_chars; ++i) {
      refs += (i ? ", " : "") + meta(m.refs[i]);
    }
    out += "  refs: " + util::cut_chars(std::move(refs), 2 * k_meta_chars) + "\n";
  }
  return out;
}

// Each line of `body` behind the body mark (a blank line shows the mark alone).
std::string framed_body(std::string_view body) {
  std::string text = sanitize(body, true);
  std::string out;
  out.reserve(text.size() + text.size() / 16 + 8);
  std::size_t start = 0;
  for (;;) {
    std::size_t end = text.find('\n', start);
    std::string_view line =
        std::string_view(text).substr(start, end == std::string::npos ? end : end - start);
    if (line.empty()) {
      out += k_body_mark.substr(0, k_body_mark.size() - 1);
    } else {
      out += k_body_mark;
      out += line;
    }
    out += '\n';
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

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

std::string format_header(const Message& m, std::string_view room) {
  return fmt::format("{} -> {}{} ({}, id {}{})",
                     shown_name(m.from, false),
                     shown_name(m.to, true),
                     m.priority == Priority::urgent ? " [URGENT]" : "",
                     util::cut_chars(sanitize(std::string_view(m.ts).substr(0, 256), false), 40),
                     sanitize(short_id(m.id), false),
                     room.empty() ? "" : ", room " + util::cut_chars(sanitize(room, false), 80));
}

std::string format_message(const Message& m, std::string_view room) {
  return head(m, room) + framed_body(m.body);
}

std::string format_message_cut(const Message& m, std::size_t max_chars, std::string_view room) {
  std::string top = head(m, room);
  std::string body = framed_body(m.body);
  std::string whole = top + body;
  std::size_t total = util::utf8_length(whole);
  if (total <= max_chars) {
    return whole;
  }
  std::string note =
      fmt::format("{}… [cut: this message has {} characters; only the first part is shown]\n",
                  k_body_mark,
                  total);
  std::size_t fixed = util::utf8_length(top) + util::utf8_length(note);
  std::size_t space = max_chars > fixed ? max_chars - fixed : 0;
  // Whole lines of the framed body, as many as fit.
  std::string shown;
  std::size_t used = 0;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('\n', start);
    std::string_view line = std::string_view(body).substr(start, end + 1 - start);
    std::size_t chars = util::utf8_length(line);
    if (used + chars > space) {
      // A long first line is shown in part rather than not at all.
      if (shown.empty() && space > k_body_mark.size() + 1) {
        shown = util::cut_chars(std::string(line.substr(0, line.size() - 1)), space - 1) + "\n";
      }
      break;
    }
    shown += line;
    used += chars;
    start = end + 1;
  }
  std::string cut = top + shown + note;
  return util::utf8_length(cut) < total ? cut : whole;  // a note longer than what it saves
}

std::string format_brief(const Message& m, std::string_view room) {
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
  folded = util::cut_chars(sanitize(folded, false), k_brief_body_chars);
  return format_header(m, room) + ": " + folded;
}

std::string message_json(const Message& message) {
  return serialize(message);
}

std::string format_agent(const spool::AgentRecord& agent) {
  std::string subs;
  if (!agent.subscriptions.empty()) {
    subs = " (";
    for (std::size_t i = 0; i < agent.subscriptions.size(); ++i) {
      subs += (i ? ", " : "") + sanitize(agent.subscriptions[i], false);
    }
    subs += ")";
  }
  return fmt::format(
      "{}{} — last seen {}", shown_name(agent.name, false), subs, sanitize(agent.last_seen, false));
}

}  // namespace bch
