#pragma once

namespace bch::cli {

// Runs the bch command line: parses argv, runs one subcommand, prints the one
// "error: …" line on failure and returns the process exit code (SPEC section 8). Never
// throws and never calls exit().
int run(int argc, char** argv);

}  // namespace bch::cli
