#pragma once

#include <bch/message.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bch {

// A `watch --exec` template made into a shell command (see src/core/shell.cpp).
struct ExecTemplate {
  std::string command;
  bool nested = false;  // some placeholder sits inside quotes: passed on, not expanded here
};

// Turns a `watch --exec` template into a shell command that cannot run code from a
// message, at any quoting depth: each placeholder ({{body}} {{from}} {{to}} {{id}}
// {{priority}} {{scope}} {{thread}}) becomes a reference to its BCH_* environment
// variable, "$BCH_BODY", escaped for the quotes around it so that only the shell that
// reads it as a word expands it. Throws Error(usage) for an unknown placeholder, an
// unbalanced quote, and shapes that hand a value to an interpreter as its program
// (`sh -c {{body}}`, `eval`, here-documents, bash arithmetic).
ExecTemplate compile_exec_template(std::string_view tmpl);

// The BCH_* variables that go with a message: BCH_ID, BCH_FROM, BCH_TO, BCH_BODY,
// BCH_PRIORITY, BCH_SCOPE, BCH_THREAD (empty when absent).
std::vector<std::pair<std::string, std::string>> exec_environment(const Message& message);

// `text` in single quotes, safe as one shell word anywhere outside quotes.
std::string shell_quote(std::string_view text);

// `text` as one shell word: as it is when no character in it needs quoting (letters,
// digits and /._-+,:@%), else shell_quote(text).
std::string shell_word(std::string_view text);

}  // namespace bch
