// A user's config.json, which may hold anything: read it, and if it is accepted, what
// is written back must read back the same (identity and joined rooms), and every room
// entry must be one whose fields are safe to use.
#include <bch/address.hpp>
#include <bch/config.hpp>
#include <bch/error.hpp>
#include <bch/protocol/relay_api.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

const std::filesystem::path& home() {
  static const std::filesystem::path dir = [] {
    char pattern[] = "/tmp/bch-fuzz-config-XXXXXX";
    return std::filesystem::path(::mkdtemp(pattern));
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(home() / "config.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    bch::Config config = bch::load_config(home());
    for (const auto& m : config.rooms) {
      if (!bch::is_valid_agent_name(m.agent)
          || (m.room && !bch::protocol::is_valid_room_id(*m.room))) {
        __builtin_trap();
      }
    }
    (void)bch::find_membership(config.memberships(), "default");
    bch::save_config(home(), config);
    bch::Config again = bch::load_config(home());
    auto a = config.memberships();
    auto b = again.memberships();
    if (a.size() != b.size() || again.agent != config.agent) {
      __builtin_trap();
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!bch::same_room(a[i], b[i]) || a[i].agent != b[i].agent || a[i].token != b[i].token) {
        __builtin_trap();
      }
    }
  } catch (const bch::Error&) {
  }
  return 0;
}
