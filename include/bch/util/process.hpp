#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace bch::util {

struct ProcessResult {
  int status = -1;  // exit status, or 128 + signal
  std::string out;  // standard output, when captured
};

// Runs `argv[0]` (looked up on PATH) with exactly `argv`: no shell, so nothing in an
// argument is ever interpreted. Standard input is /dev/null and stderr is discarded; the
// child starts with no blocked signals. With `capture`, up to 64 KiB of stdout is kept
// (the rest is read and dropped); without it stdout is discarded too. A child still
// running after `timeout` is killed. Nothing if the program could not be started.
std::optional<ProcessResult> run_process(const std::vector<std::string>& argv,
                                         bool capture,
                                         std::chrono::milliseconds timeout);

}  // namespace bch::util
