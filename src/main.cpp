#include <bch/cli/cli.hpp>

int main(int argc, char** argv) {
  return bch::cli::run(argc, argv);
}
