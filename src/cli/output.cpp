#include "cli/output.hpp"

#include <bch/util/fs.hpp>

#include <unistd.h>

namespace bch::cli {

void print(const std::string& text) {
  util::write_all(STDOUT_FILENO, text, "standard output");
}

std::string json_line(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace bch::cli
