// bch benchmarks (`make bench`): start-up and end-to-end costs of the real binary, and
// the spool's durable throughput. Every figure is a median over repeated runs; peak
// memory is the child's ru_maxrss from wait4(). Usage: bch_bench <path to bch> [reps].

#include <bch/message.hpp>
#include <bch/spool/fs_spool.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Run {
  double ms;
  long max_rss_kib;
};

// Runs bch with `args` and the given agent, stdout and stderr to /dev/null; wall time
// and peak RSS. Any exit status but `expected` ends the benchmark. `url` sets
// BACKCHANNEL_URL for the child.
Run run_bch(const std::string& bch,
            const std::vector<std::string>& args,
            const std::string& agent,
            int expected = 0,
            const char* url = nullptr) {
  auto start = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(devnull, STDERR_FILENO);
    ::setenv("BACKCHANNEL_AGENT", agent.c_str(), 1);
    if (url != nullptr) {
      ::setenv("BACKCHANNEL_URL", url, 1);
    }
    std::vector<char*> argv{const_cast<char*>(bch.c_str())};
    for (const auto& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    ::execv(bch.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != expected) {
    fmt::print(stderr, "bch {} failed\n", args.empty() ? "" : args[0]);
    std::exit(1);
  }
  return {ms, usage.ru_maxrss};
}

template <typename T>
T median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Prints the median time and peak RSS; returns the median time.
double report(const char* what, const std::vector<Run>& runs) {
  std::vector<double> ms;
  std::vector<long> kib;
  for (const auto& r : runs) {
    ms.push_back(r.ms);
    kib.push_back(r.max_rss_kib);
  }
  fmt::print("{:<44} {:>9.3f} ms {:>8.2f} MiB   (median of {})\n",
             what,
             median(ms),
             static_cast<double>(median(kib)) / 1024.0,
             runs.size());
  return median(ms);
}

// Fills bob's new/ with `n` well-formed messages, quickly (no fsync: this is set-up).
void fill_inbox(const fs::path& home, int n) {
  fs::path dir = home / "spool" / "bob" / "new";
  std::int64_t now = bch::now_unix_ms();
  for (int i = 0; i < n; ++i) {
    bch::Message m;
    m.id = bch::make_uuid_v7(now + i, 0);
    m.from = "alice";
    m.to = "@bob";
    m.body =
        fmt::format("benchmark message {} with a body of ordinary length, like a status line", i);
    m.ts = bch::format_timestamp(now + i);
    std::ofstream(dir / (m.id + ".json")) << bch::serialize(m) << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: bch_bench <path to bch> [repetitions]\n");
    return 2;
  }
  std::string bch = fs::absolute(argv[1]).string();
  int reps = argc > 2 ? std::atoi(argv[2]) : 200;
  char tmpl[] = "/tmp/bch-bench-XXXXXX";
  fs::path root = ::mkdtemp(tmpl);
  fs::path home = root / "home";
  ::setenv("BACKCHANNEL_HOME", home.c_str(), 1);
  run_bch(bch, {"init", "alice"}, "alice");
  run_bch(bch, {"init", "bob"}, "bob");
  fmt::print("bch benchmarks: {} on {}\n\n", bch, root.string());

  // Start-up paths against a static no-op, measured interleaved (one run of each in
  // turn) so that the machine's drift touches all of them alike.
  std::string noop = (fs::path(argv[0]).parent_path() / "bch_noop").string();
  struct Path {
    const char* what;
    std::vector<std::string> args;
    int expected;
    const char* url;
    double target;  // at most this many times the no-op
    std::vector<Run> runs;
  };
  std::vector<Path> paths = {
      {"floor: a static no-op process", {}, 0, nullptr, 0, {}},
      {"bch drain --hook, empty inbox", {"drain", "--hook"}, 0, nullptr, 1.3, {}},
      {"bch --version", {"--version"}, 0, nullptr, 1.6, {}},
      {"bch drian (a usage error)", {"drian"}, 2, nullptr, 1.6, {}},
      {"bch drain --hook, relay down", {"drain", "--hook"}, 0, "http://127.0.0.1:1", 1.6, {}},
  };
  for (int i = 0; i < reps; ++i) {
    for (auto& p : paths) {
      p.runs.push_back(run_bch(p.target == 0 ? noop : bch, p.args, "bob", p.expected, p.url));
    }
  }
  double floor = 0;
  for (auto& p : paths) {
    double ms = report(p.what, p.runs);
    if (p.target == 0) {
      floor = ms;
    } else {
      fmt::print("{:<44} {:>9.2f} ×  (target ≤ {:.1f}× the no-op: {})\n",
                 "",
                 ms / floor,
                 p.target,
                 ms / floor <= p.target ? "met" : "NOT MET");
    }
  }
  std::vector<Run> runs;

  runs.clear();
  for (int i = 0; i < reps; ++i) {
    runs.push_back(run_bch(bch, {"send", "@bob", "PR 42 merged, rebase now"}, "alice"));
  }
  report("bch send @bob (durable: 2 fsyncs)", runs);
  run_bch(bch, {"drain"}, "bob");

  runs.clear();
  int drain_reps = std::max(3, reps / 40);
  for (int i = 0; i < drain_reps; ++i) {
    fill_inbox(home, 10000);
    runs.push_back(run_bch(bch, {"drain", "--json"}, "bob"));
  }
  report("bch drain --json, 10,000 messages", runs);

  // Durable throughput through the library: send N (each fsynced), then claim all N.
  bch::spool::FsSpool spool(home);
  std::vector<double> rates;
  const int n = 2000;
  for (int r = 0; r < 3; ++r) {
    auto start = Clock::now();
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      ids.push_back(spool.send("alice", "@bob", "throughput", {}).id);
    }
    for (const auto& id : ids) {
      spool.take("bob", id, false);
    }
    double s = std::chrono::duration<double>(Clock::now() - start).count();
    rates.push_back(n / s);
  }
  fmt::print("{:<44} {:>9.0f} msg/s  (median of 3 × {} sends + {} takes, fsync on)\n",
             "send+drain throughput, in-process",
             median(rates),
             n,
             n);

  // The same through processes, as agents use it.
  auto start = Clock::now();
  const int m = std::max(50, reps / 2);
  for (int i = 0; i < m; ++i) {
    run_bch(bch, {"send", "@bob", "throughput"}, "alice");
  }
  run_bch(bch, {"drain", "--json"}, "bob");
  double s = std::chrono::duration<double>(Clock::now() - start).count();
  fmt::print("{:<44} {:>9.0f} msg/s  ({} bch send processes, then one bch drain)\n",
             "send+drain throughput, CLI",
             m / s,
             m);

  fs::remove_all(root);
  return 0;
}
