// Requests to the relay as raw HTTP/1.1 bytes ("$ALICE" anywhere stands for alice's
// agent token, which no fuzzer could guess, and "$SESSION" for the last MCP session id
// the relay issued), answered by RelayServer::answer without a
// socket: httplib's request parsing, the router and every handler. Each request must
// get an answer that is not a server error, and nothing may appear outside the relay's
// data folder.
#include <bch/relay/relay_server.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

std::string request(const std::string& head, const std::string& body) {
  return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct Relay {
  std::filesystem::path dir;
  std::unique_ptr<bch::relay::RelayServer> server;
  std::string alice_token;
  std::string session = "none";

  Relay() {
    char pattern[] = "/tmp/bch-fuzz-relay-XXXXXX";
    dir = ::mkdtemp(pattern);
    bch::relay::RelayOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.data_dir = dir / "data";
    options.token = "room-secret";
    options.max_body = 4096;
    options.keepalive = std::chrono::milliseconds(1);
    server = std::make_unique<bch::relay::RelayServer>(options);
    server->start();  // bound, never served: event streams run only on a started relay
    std::string head = "POST /v1/register HTTP/1.1\r\nAuthorization: Bearer room-secret\r\n";
    std::string alice = server->answer(request(head, R"({"name":"alice"})"));
    auto at = alice.find("\"token\":\"");
    if (at == std::string::npos) {
      std::abort();  // the fuzzer would learn nothing without a registered agent
    }
    alice_token = alice.substr(at + 9, 64);
    server->answer(request(head, R"({"name":"bob"})"));
  }
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  ~Relay() {
    server.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Relay relay;
  std::string text(reinterpret_cast<const char*>(data), size);
  auto substitute = [&](const std::string& name, const std::string& value) {
    for (auto at = text.find(name); at != std::string::npos; at = text.find(name, at)) {
      text.replace(at, name.size(), value);
      at += value.size();
    }
  };
  substitute("$ALICE", relay.alice_token);
  substitute("$SESSION", relay.session);
  std::string answer = relay.server->answer(text);
  if (auto at = answer.find("Mcp-Session-Id: "); at != std::string::npos) {
    relay.session = answer.substr(at + 16, 64);
  }
  if (answer.compare(0, 9, "HTTP/1.1 ") == 0 && answer.compare(9, 1, "5") == 0) {
    __builtin_trap();  // the relay never answers a client's mistake with a server error
  }
  for (const auto& entry : std::filesystem::directory_iterator(relay.dir)) {
    if (entry.path().filename() != "data") {
      __builtin_trap();
    }
  }
  return 0;
}
