// bch_fake_brain: the stand-in brain API as a process, for the integration tests.
// Prints "fake brain listening on http://127.0.0.1:<port>" and serves until killed.
// Usage: bch_fake_brain [token]

#include "support/fake_brain.hpp"

#include <csignal>
#include <cstdio>

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  bch::test::FakeBrain brain(argc > 1 ? argv[1] : "usk_fake_token");
  std::printf("fake brain listening on %s\n", brain.url().c_str());
  std::fflush(stdout);
  brain.wait();
  return 0;
}
