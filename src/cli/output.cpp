#include "cli/output.hpp"

#include <bch/util/fs.hpp>

#include <unistd.h>

namespace bch::cli {

void print(const std::string& text) {
  util::write_all(STDOUT_FILENO, text, "standard output");
}

}  // namespace bch::cli
