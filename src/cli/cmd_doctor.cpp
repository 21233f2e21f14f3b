// `bch doctor`: is this home ready? One line per check — identity, each joined room's
// backend reached and authorised, file permissions, unreadable messages, what each
// harness runs, the wake service — each failure with the command that fixes it.
#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/address.hpp>
#include <bch/error.hpp>
#include <bch/spool/http_spool.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/process.hpp>
#include <bch/util/text.hpp>

#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

namespace bch::cli {
namespace {

namespace fs = std::filesystem;

enum class Status { ok, warn, fail };

struct Check {
  Status status;
  std::string name;
  std::string detail;
  std::string fix;  // empty when nothing is to be done
};

const char* to_string(Status s) {
  return s == Status::ok ? "ok" : s == Status::warn ? "warn" : "FAIL";
}

// What to run when a backend could not be used, by the kind of failure.
std::string backend_fix(ErrorKind kind, const Settings& s) {
  switch (kind) {
    case ErrorKind::unavailable:
      return "check that the relay is up and reachable from here";
    case ErrorKind::usage:
    case ErrorKind::not_found:
      return s.backend == Backend::local ? "bch init <name>"
                                         : "join again: bch join <invite> --as <name>";
    default:
      return s.backend == Backend::relay ? fmt::format(
                 "the relay refused this home's token: `bch leave {}`, then join "
                 "again with a fresh invite",
                 room_label(s.room))
                                         : "";
  }
}

void check_rooms(Globals& g, std::vector<Check>& out) {
  auto rooms = g.reading_rooms();
  bool several = rooms.size() > 1;
  for (const auto& s : rooms) {
    std::string name = several ? "room " + room_label(s.room) : "backend";
    std::string where = spool::describe_location(s);
    if (!s.agent) {
      out.push_back({Status::fail,
                     "identity",
                     "no agent identity",
                     "bch init <name> (or bch join <invite> --as <name>)"});
      return;
    }
    try {
      auto spool = spool::open_spool(s, true);
      auto waiting = spool->inbox(*s.agent).size();
      out.push_back({Status::ok,
                     name,
                     fmt::format("{} as {}: {} unread", where, in_quotes(*s.agent), waiting),
                     ""});
    } catch (const Error& e) {
      out.push_back({Status::fail, name, where + ": " + e.what(), backend_fix(e.kind(), s)});
    }
  }
}

void check_files(Globals& g, std::vector<Check>& out) {
  const fs::path& home = g.home();
  auto mode_of = [](const fs::path& p) -> std::optional<unsigned> {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      return std::nullopt;
    }
    return static_cast<unsigned>(st.st_mode & 07777);
  };
  for (const auto& [path, wanted] :
       {std::pair{home, 0700U}, std::pair{home / "config.json", 0600U}}) {
    auto mode = mode_of(path);
    if (!mode) {
      continue;
    }
    if ((*mode & 077) != 0) {
      out.push_back({Status::warn,
                     "permissions",
                     fmt::format("{} is mode {:o}: others can read it", path.string(), *mode),
                     fmt::format("chmod {:o} '{}'", wanted, path.string())});
    } else {
      out.push_back(
          {Status::ok, "permissions", fmt::format("{} is mode {:o}", path.string(), *mode), ""});
    }
  }
  const Settings& s = g.settings();
  if (s.backend == Backend::local && s.agent) {
    fs::path bad = home / "spool" / *s.agent / "bad";
    std::size_t count = util::list_dir(bad).value_or(std::vector<std::string>{}).size();

    if (count > 0) {
      out.push_back(
          {Status::warn,
           "unreadable messages",
           fmt::format("{} file(s) in {} could not be read as messages", count, bad.string()),
           fmt::format("look at them, then remove them: ls -l '{}'", bad.string())});
    }
  }
}

// An MCP entry `setup --remote` wrote: whether it reaches a room this home is in, as the
// agent this home is there (a token rotated since is no longer accepted).
Check check_remote(Globals& g, const std::string& name, const setup::Wiring& w) {
  std::string url = util::sanitize(*w.url, false);
  std::vector<Settings> rooms;
  try {
    rooms = g.reading_rooms();
  } catch (const Error&) {
    // no identity here: the entry names a room this home is not in
  }
  auto reached_by = [&](const Settings& room) {
    try {
      return room.url && spool::mcp_url(*room.url) == *w.url && room.room == w.room;
    } catch (const Error&) {
      return false;  // a URL the backend check reports
    }
  };
  for (const auto& room : rooms) {
    if (!reached_by(room)) {
      continue;
    }
    if (room.token != w.token) {
      return {Status::warn,
              name,
              fmt::format("{} reaches {} with a token this home no longer holds", w.file, url),
              "bch setup --remote"};
    }
    return {
        Status::ok,
        name,
        fmt::format(
            "{} reaches {} as \"{}\"", w.file, url, util::sanitize(room.agent.value_or(""), false)),
        ""};
  }
  return {Status::warn,
          name,
          fmt::format("{} reaches {}{}, a room this home has not joined",
                      w.file,
                      url,
                      w.room ? " (room " + util::sanitize(*w.room, false) + ")" : ""),
          "bch setup --remote, or bch setup for the stdio server"};
}

void check_harnesses(Globals& g, std::vector<Check>& out) {
  setup::Options options;
  try {
    options = harness_options(g);
  } catch (const Error& e) {
    out.push_back({Status::warn, "harnesses", e.what(), ""});
    return;
  }
  std::string self = own_path();
  std::vector<setup::Wiring> wired;
  try {
    wired = setup::inspect(options);
  } catch (const Error& e) {
    out.push_back({Status::warn, "harnesses", e.what(), ""});
    return;
  }
  if (wired.empty()) {
    out.push_back({Status::ok, "harnesses", "none found (Claude Code, Codex, Gemini CLI)", ""});
  }
  for (const auto& w : wired) {
    std::string name = fmt::format("{} {}", w.harness, w.what);
    if (w.problem) {
      out.push_back({Status::fail, name, *w.problem, "fix the file, then: bch setup"});
      continue;
    }
    if (w.url) {
      out.push_back(check_remote(g, name, w));
      continue;
    }
    if (!w.program) {
      out.push_back({Status::fail, name, "not set up in " + w.file, "bch setup"});
      continue;
    }
    std::error_code ec;
    if (!fs::exists(*w.program, ec) || ::access(w.program->c_str(), X_OK) != 0) {
      out.push_back({Status::fail,
                     name,
                     fmt::format("{} runs {}, which does not exist", w.file, *w.program),
                     "bch setup"});
      continue;
    }
    if (in_build_folder(*w.program)) {
      out.push_back(
          {Status::warn,
           name,
           fmt::format(
               "{} runs {}, in a build folder: `make clean` would break it", w.file, *w.program),
           "make install, then bch setup"});
      continue;
    }
    if (fs::equivalent(*w.program, self, ec)) {
      out.push_back(
          {Status::ok, name, fmt::format("{} runs {} (this bch)", w.file, *w.program), ""});
      continue;
    }
    auto version = util::run_process({*w.program, "--version"}, true, std::chrono::seconds(5));
    std::string theirs = version ? version->out.substr(0, version->out.find('\n')) : "";
    if (theirs == version_line()) {
      out.push_back(
          {Status::ok, name, fmt::format("{} runs {} (this version)", w.file, *w.program), ""});
    } else {
      out.push_back({Status::warn,
                     name,
                     fmt::format("{} runs {}, which is {}",
                                 w.file,
                                 *w.program,
                                 theirs.empty() ? "not a working bch" : theirs),
                     "bch setup (to run this one: " + version_line() + ")"});
    }
  }
  // The wake service, when it is installed.
  fs::path unit = options.home / ".config/systemd/user/backchannel-wake.service";
  std::error_code ec;
  if (!fs::exists(unit, ec)) {
    out.push_back({Status::ok, "wake service", "not installed (optional: bch setup --wake)", ""});
    return;
  }
  if (options.test_home) {
    out.push_back({Status::ok, "wake service", "installed: " + unit.string(), ""});
    return;
  }
  auto active = util::run_process({"systemctl", "--user", "is-active", "backchannel-wake.service"},
                                  true,
                                  std::chrono::seconds(5));
  std::string state = active ? active->out.substr(0, active->out.find('\n')) : "unknown";
  out.push_back(
      {state == "active" ? Status::ok : Status::warn,
       "wake service",
       "installed, " + (state.empty() ? std::string("unknown") : state),
       state == "active" ? "" : "systemctl --user enable --now backchannel-wake.service"});
}

void run_doctor(bool json, Globals& g) {
  std::vector<Check> checks;
  try {
    const Settings& s = g.settings();
    if (s.agent) {
      checks.push_back({Status::ok,
                        "identity",
                        fmt::format("{} ({})", in_quotes(*s.agent), g.home().string()),
                        ""});
    }
    check_rooms(g, checks);
    check_files(g, checks);
  } catch (const Error& e) {
    checks.push_back({Status::fail, "config", e.what(), "fix or remove config.json"});
  }
  check_harnesses(g, checks);

  bool failed = false;
  if (json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& c : checks) {
      out.push_back({{"check", c.name},
                     {"status", to_string(c.status)},
                     {"detail", c.detail},
                     {"fix", c.fix}});
      failed = failed || c.status == Status::fail;
    }
    print(json_line(out));
  } else {
    std::string text;
    for (const auto& c : checks) {
      text += util::sanitize(fmt::format("{:<4}  {}: {}{}",
                                         to_string(c.status),
                                         c.name,
                                         c.detail,
                                         c.fix.empty() ? "" : " — fix: " + c.fix),
                             false)
              + "\n";
      failed = failed || c.status == Status::fail;
    }
    print(text);
  }
  if (failed) {
    throw Error(ErrorKind::internal, "");  // the lines said it; exit non-zero, quietly
  }
}

}  // namespace

void add_doctor(CLI::App& app, Globals& g) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "doctor", "check identity, relays, harness hooks and files; say how to fix what is wrong");
  cmd->add_flag("--json", *json, "a JSON array of {check, status, detail, fix}");
  cmd->callback([json, &g] { run_doctor(*json, g); });
}

}  // namespace bch::cli
