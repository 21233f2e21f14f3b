#pragma once

#include <bch/message.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bch {

// Turns a `watch --exec` template into a shell command that cannot run code from a
// message. Each placeholder ({{body}} {{from}} {{to}} {{id}} {{priority}} {{scope}}
// {{thread}}) becomes a quoted reference to its BCH_* environment variable, quoted for
// where it stands in the template (outside quotes, inside "…", inside '…'), so the shell
// expands the value as data and never parses it. Throws Error(usage) for an unknown
// placeholder.
std::string compile_exec_template(std::string_view tmpl);

// The BCH_* variables that go with a message: BCH_ID, BCH_FROM, BCH_TO, BCH_BODY,
// BCH_PRIORITY, BCH_SCOPE, BCH_THREAD (empty when absent).
std::vector<std::pair<std::string, std::string>> exec_environment(const Message& message);

// `text` in single quotes, safe as one shell word anywhere outside quotes.
std::string shell_quote(std::string_view text);

}  // namespace bch
