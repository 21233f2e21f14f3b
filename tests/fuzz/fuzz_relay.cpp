// Requests to the relay: "<METHOD> <path>\n<header lines>\n\n<body>" ("$ALICE" in a
// header stands for alice's agent token, which no fuzzer could guess), sent to an
// in-process relay on 127.0.0.1 (cpp-httplib has no public way to route a request
// without a socket). The relay must answer every request, never crash, and never
// write outside its data folder.
#include <bch/relay/relay_server.hpp>
#include <bch/util/httplib.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace {

struct Relay {
  std::filesystem::path dir;
  std::unique_ptr<bch::relay::RelayServer> server;
  std::thread thread;
  std::unique_ptr<httplib::Client> client;
  std::string alice_token;

  Relay() {
    char pattern[] = "/tmp/bch-fuzz-relay-XXXXXX";
    dir = ::mkdtemp(pattern);
    bch::relay::RelayOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.data_dir = dir / "data";
    options.token = "room-secret";
    options.max_body = 4096;
    server = std::make_unique<bch::relay::RelayServer>(options);
    server->start();
    thread = std::thread([this] { server->serve(); });
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    client->set_keep_alive(true);
    client->set_read_timeout(std::chrono::seconds(5));
    httplib::Headers auth{{"Authorization", "Bearer room-secret"}};
    auto alice = client->Post("/v1/register", auth, R"({"name":"alice"})", "application/json");
    if (alice) {
      auto at = alice->body.find("\"token\":\"");
      if (at != std::string::npos) {
        alice_token = alice->body.substr(at + 9, 64);
      }
    }
    client->Post("/v1/register", auth, R"({"name":"bob"})", "application/json");
  }
  ~Relay() {
    server->stop();
    thread.join();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Relay relay;
  std::string text(reinterpret_cast<const char*>(data), size);
  auto line_end = text.find('\n');
  std::string first = text.substr(0, line_end);
  auto space = first.find(' ');
  std::string method = first.substr(0, space);
  std::string path = space == std::string::npos ? "/" : first.substr(space + 1);
  if (path.empty() || path[0] != '/' || path.find_first_of(" \r\n") != std::string::npos
      || path.find("/v1/events/") == 0) {
    return 0;  // not a request line httplib would send; streams never end by themselves
  }
  httplib::Headers headers;
  std::string body;
  std::size_t pos = line_end == std::string::npos ? text.size() : line_end + 1;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? text.size() : end + 1;
    if (line.empty()) {
      body = text.substr(pos);
      break;
    }
    auto colon = line.find(':');
    if (colon != std::string::npos && colon > 0
        && line.find_first_of("\r\0", 0, 2) == std::string::npos) {
      std::string value = line.substr(colon + 1);
      if (auto at = value.find("$ALICE"); at != std::string::npos) {
        value.replace(at, 6, relay.alice_token);
      }
      headers.emplace(line.substr(0, colon), value);
    }
  }
  httplib::Result result = method == "POST"
                               ? relay.client->Post(path, headers, body, "application/json")
                               : relay.client->Get(path, headers);
  if (result && result->status >= 500) {
    __builtin_trap();  // the relay never answers a client's mistake with a server error
  }
  // Nothing may appear next to the data folder.
  for (const auto& entry : std::filesystem::directory_iterator(relay.dir)) {
    if (entry.path().filename() != "data") {
      __builtin_trap();
    }
  }
  return 0;
}
