// bch_stream_load: many event streams against a real relay, for test_relay.sh. Opens
// `count` streams of one agent at once, waits for every one to be served, sends one
// message as another agent and waits for it to reach every stream. Prints
// "served <n> slowest <ms>" and "reached <n> within <ms>"; exits 1 if a stream is not
// served, or not reached, within `limit_s` seconds.
//
//   bch_stream_load <port> <agent> <agent token> <sender token> <count> <limit_s>
#include "support/watchers.hpp"

#include <bch/util/httplib.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 7) {
    fmt::print(stderr,
               "usage: bch_stream_load <port> <agent> <agent token> <sender token> <count> "
               "<limit_s>\n");
    return 2;
  }
  bch::test::prepare_for_many_sockets();
  int port = std::stoi(argv[1]);
  std::string agent = argv[2];
  std::string token = argv[3];
  std::string sender = argv[4];
  auto count = static_cast<std::size_t>(std::stoul(argv[5]));
  std::chrono::seconds within(std::stoi(argv[6]));

  std::vector<std::pair<std::string, std::string>> streams(count, {agent, token});
  bch::test::Watchers all(port, streams);
  auto [served, slowest] = all.wait_served(within);
  fmt::print("served {} slowest {:.0f}\n", served, slowest);
  if (served != count) {
    return 1;
  }
  httplib::Client client("127.0.0.1", port);
  auto start = std::chrono::steady_clock::now();
  auto res = client.Post("/v1/send",
                         httplib::Headers{{"Authorization", "Bearer " + sender}},
                         nlohmann::json{{"to", "@" + agent}, {"body", "to every stream"}}.dump(),
                         "application/json");
  if (!res || res->status != 200) {
    fmt::print(stderr, "send failed\n");
    return 1;
  }
  std::string id = nlohmann::json::parse(res->body)["id"];
  bool reached = all.wait_event(id, within, count);
  fmt::print(
      "reached {} within {:.0f}\n",
      reached ? count : 0,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  return reached ? 0 : 1;
}
