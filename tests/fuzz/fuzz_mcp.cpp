// JSON-RPC lines from an MCP client, against a server over a scratch local spool.
#include <bch/mcp/server.hpp>
#include <bch/spool/fs_spool.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string_view>

namespace {

struct Scratch {
  std::filesystem::path dir;
  std::unique_ptr<bch::spool::FsSpool> spool;
  std::string agent = "alice";
  std::unique_ptr<bch::mcp::Server> server;

  Scratch() {
    char pattern[] = "/tmp/bch-fuzz-mcp-XXXXXX";
    dir = ::mkdtemp(pattern);
    spool = std::make_unique<bch::spool::FsSpool>(dir);
    spool->register_agent("alice");
    spool->register_agent("bob");
    server = std::make_unique<bch::mcp::Server>(
        bch::mcp::Session{[this]() -> bch::spool::Spool& { return *spool; },
                          [this]() -> const std::string& { return agent; },
                          std::string("github.com/org/repo"),
                          bch::spool::k_default_budget,
                          {}});
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Scratch scratch;
  auto answer =
      scratch.server->handle_line(std::string_view(reinterpret_cast<const char*>(data), size));
  // An answer is always one line: stdout carries nothing else.
  if (answer && answer->find('\n') != std::string::npos) {
    __builtin_trap();
  }
  return 0;
}
