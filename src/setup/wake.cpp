// The wake service (`bch setup --wake`): a per-user service running
// `bch watch --urgent-only --notify`, which peeks (never claims) and shows each urgent
// message as a desktop notification. The service runs bch and nothing else; bch runs
// the notifier with the text as arguments (see cli/cmd_watch.cpp).

#include "setup/home_files.hpp"

#include <bch/error.hpp>
#include <bch/format.hpp>
#include <bch/setup/setup.hpp>
#include <bch/shell.hpp>
#include <bch/util/process.hpp>

#include <fmt/format.h>

#include <unistd.h>

namespace bch::setup {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_unit_name = "backchannel-wake.service";
constexpr const char* k_launchd_label = "dev.backchannel.wake";

// One word of a systemd ExecStart= or Environment= line: double-quoted, with the
// specifiers (%) and variable references ($) systemd would expand written literally.
std::string systemd_word(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '%') {
      out += "%%";
    } else if (c == '$') {
      out += "$$";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Commands as a person would type them, joined by " && ".
std::string command_line(const std::vector<std::vector<std::string>>& commands) {
  std::string out;
  for (const auto& argv : commands) {
    out += out.empty() ? "" : " && ";
    for (std::size_t i = 0; i < argv.size(); ++i) {
      out += (i == 0 ? "" : " ") + shell_word(argv[i]);
    }
  }
  return out;
}

void run_manager(const std::vector<std::string>& argv, const std::string& hint) {
  auto result = util::run_process(argv, false, std::chrono::seconds(30));
  if (!result) {
    throw Error(ErrorKind::io, fmt::format("cannot run {} — {}", argv[0], hint));
  }
  if (result->status != 0) {
    std::string command;
    for (const auto& a : argv) {
      command += (command.empty() ? "" : " ") + a;
    }
    throw Error(ErrorKind::io,
                fmt::format("`{}` exited with {} — {}", command, result->status, hint));
  }
}

}  // namespace

std::string systemd_unit(const Options& o) {
  std::string environment;
  for (const auto& [name, value] : setup::environment(o)) {
    environment += fmt::format("Environment={}\n", systemd_word(fmt::format("{}={}", name, value)));
  }
  return fmt::format(
      "[Unit]\n"
      "Description=backchannel: desktop notifications for urgent messages\n"
      "After=graphical-session.target\n"
      "\n"
      "[Service]\n"
      "ExecStart={} watch --urgent-only --notify\n"
      "{}"
      "Restart=on-failure\n"
      "RestartSec=10\n"
      "NoNewPrivileges=yes\n"
      "\n"
      "[Install]\n"
      "WantedBy=default.target\n",
      systemd_word(o.bch),
      environment);
}

std::string launchd_plist(const Options& o) {
  std::string environment;
  for (const auto& [name, value] : setup::environment(o)) {
    environment +=
        fmt::format("    <key>{}</key>\n    <string>{}</string>\n", name, xml_escape(value));
  }
  if (!environment.empty()) {
    environment = "  <key>EnvironmentVariables</key>\n  <dict>\n" + environment + "  </dict>\n";
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
      "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
      "<plist version=\"1.0\">\n"
      "<dict>\n"
      "  <key>Label</key>\n"
      "  <string>{}</string>\n"
      "  <key>ProgramArguments</key>\n"
      "  <array>\n"
      "    <string>{}</string>\n"
      "    <string>watch</string>\n"
      "    <string>--urgent-only</string>\n"
      "    <string>--notify</string>\n"
      "  </array>\n"
      "{}"
      "  <key>RunAtLoad</key>\n"
      "  <true/>\n"
      "  <key>KeepAlive</key>\n"
      "  <dict>\n"
      "    <key>SuccessfulExit</key>\n"
      "    <false/>\n"
      "  </dict>\n"
      "</dict>\n"
      "</plist>\n",
      k_launchd_label,
      xml_escape(o.bch),
      environment);
}

void install_wake(const Options& o,
                  const HomeFiles& files,
                  const std::function<void(const std::string&)>& report) {
#ifdef __APPLE__
  fs::path file = fs::path("Library/LaunchAgents") / (std::string(k_launchd_label) + ".plist");
  std::string content = launchd_plist(o);
  std::string plist = (o.home / file).string();
  std::vector<std::vector<std::string>> commands{{"launchctl", "load", "-w", plist}};
  std::string hint = fmt::format("load it with `launchctl load -w {}`", plist);
  std::string started = fmt::format("[wake] loaded {} with launchctl", k_launchd_label);
  const char* not_started = "[wake] not loaded: BACKCHANNEL_SETUP_HOME is set";
#else
  fs::path file = fs::path(".config/systemd/user") / k_unit_name;
  std::string content = systemd_unit(o);
  std::vector<std::vector<std::string>> commands{
      {"systemctl", "--user", "daemon-reload"},
      {"systemctl", "--user", "enable", "--now", k_unit_name}};
  std::string hint = fmt::format("start it with `systemctl --user enable --now {}`", k_unit_name);
  std::string started =
      fmt::format("[wake] enabled and started {} (systemctl --user)", k_unit_name);
  const char* not_started = "[wake] not started: BACKCHANNEL_SETUP_HOME is set";
#endif
  bool changed = files.write(file, content, 0644);
  if (o.dry_run) {
    if (!o.test_home) {
      report(fmt::format("[wake] would run: {}", command_line(commands)));
    }
    return;
  }
  report(fmt::format(
      "[wake] {} {}", changed ? "installed" : "already installed:", files.display(file)));
  if (o.test_home) {
    report(not_started);
    return;
  }
  for (const auto& argv : commands) {
    run_manager(argv, hint);
  }
  report(started);
}

void remove_wake(const Options& o,
                 const HomeFiles& files,
                 const std::function<void(const std::string&)>& report) {
#ifdef __APPLE__
  fs::path file = fs::path("Library/LaunchAgents") / (std::string(k_launchd_label) + ".plist");
  std::string plist = (o.home / file).string();
  std::vector<std::vector<std::string>> before{{"launchctl", "unload", "-w", plist}};
  std::vector<std::vector<std::string>> after;
  std::string hint = fmt::format("unload it with `launchctl unload -w {}`", plist);
#else
  fs::path file = fs::path(".config/systemd/user") / k_unit_name;
  std::vector<std::vector<std::string>> before{
      {"systemctl", "--user", "disable", "--now", k_unit_name}};
  std::vector<std::vector<std::string>> after{{"systemctl", "--user", "daemon-reload"}};
  std::string hint = fmt::format("stop it with `systemctl --user disable --now {}`", k_unit_name);
#endif
  auto text = files.read(file);
  if (!text) {
    return;
  }
  if (text->find(" watch --urgent-only --notify") == std::string::npos
      && text->find("<string>--urgent-only</string>") == std::string::npos) {
    report(fmt::format("[wake] left {}: it does not run bch's notifier", files.display(file)));
    return;
  }
  bool manage = !o.test_home && !o.dry_run;
  if (o.dry_run && !o.test_home) {
    auto all = before;
    all.insert(all.end(), after.begin(), after.end());
    report(fmt::format("[wake] would run: {}", command_line(all)));
  }
  if (manage) {
    for (const auto& argv : before) {
      run_manager(argv, hint);
    }
  }
  files.remove(file);
  if (manage) {
    for (const auto& argv : after) {
      run_manager(argv, hint);
    }
  }
  if (!o.dry_run) {
    report(fmt::format("[wake] {} and removed {}",
                       manage ? "stopped" : "not stopped (BACKCHANNEL_SETUP_HOME is set)",
                       files.display(file)));
  }
}

}  // namespace bch::setup
