// The bch command line: a table of subcommands, the global flags, and the single place
// where errors become the "error: …" line and an exit code.

#include "cli/commands.hpp"

#include <bch/address.hpp>
#include <bch/cli/cli.hpp>
#include <bch/error.hpp>
#include <bch/util/log.hpp>
#include <bch/util/text.hpp>
#include <bch/version.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>

namespace bch::cli {

const std::filesystem::path& Globals::home() {
  if (!m_home) {
    m_home = resolve_home(env);
  }
  return *m_home;
}

Config& Globals::config() {
  if (!m_config) {
    m_config = load_config(home());
  }
  return *m_config;
}

const Settings& Globals::settings() {
  if (m_settings) {
    return *m_settings;
  }
  if (!room.empty()) {
    auto joined = find_membership(config().memberships(), room);
    if (!joined) {
      throw Error(ErrorKind::usage,
                  fmt::format("this home has not joined room {} — `bch rooms` lists the ones "
                              "it has",
                              in_quotes(room)));
    }
    m_settings = settings_for(*joined, env, home());
  } else if (auto joined = env.relay_room && !env.url
                               ? find_membership(config().memberships(), *env.relay_room)
                               : std::nullopt) {
    m_settings = settings_for(*joined, env, home());
  } else {
    m_settings = resolve_settings(env, config(), home());
  }
  return *m_settings;
}

std::vector<Settings> Globals::reading_rooms() {
  std::vector<Settings> out{settings()};
  if (!room.empty() || env.url || env.relay_room || env.backend) {
    return out;
  }
  for (const auto& joined : config().rooms) {  // the top-level room is settings()
    out.push_back(settings_for(joined, env, home()));
  }
  return out;
}

spool::Spool& Globals::spool() {
  if (!m_spool) {
    m_spool = spool::open_spool(settings(), quick);
  }
  return *m_spool;
}

void Globals::reload() {
  m_config.reset();
  m_settings.reset();
  m_spool.reset();
}

std::string version_line() {
  return fmt::format("bch {} ({}, {})", k_version, k_commit, k_target);
}

std::string install_hint() {
  if (*k_release_url != '\0') {
    return fmt::format(
        "Teammates without bch install it first (no root needed):\n"
        "\n"
        "  curl -fsSL {}/install.sh | sh\n",
        k_release_url);
  }
  return "Teammates without bch install it first: see \"Install\" in bch's README (a\n"
         "release's install.sh, its .deb, or make install from source).\n";
}

std::optional<std::string> non_empty(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  return text;
}

namespace {

struct Command {
  void (*add)(CLI::App&, Globals&);
};

// In the order `bch --help` lists them.
constexpr Command k_commands[] = {
    // clang-format off
    {add_init},
    {add_send},
    {add_inbox},
    {add_drain},
    {add_read},
    {add_watch},
    {add_sub},
    {add_unsub},
    {add_agents},
    {add_channels},
    {add_whoami},
    {add_rooms},
    {add_leave},
    {add_room},
    {add_token},
    {add_connector},
    {add_invite},
    {add_join},
    {add_setup},
    {add_doctor},
    {add_relay},
    {add_mcp},
    {add_completion},
    // clang-format on
};

constexpr const char* k_description =
    "bch — messages between AI coding agents.\n"
    "Send with `bch send @agent \"text\"` or `bch send #channel \"text\"`; receive with\n"
    "`bch drain`. Messages wait in the recipient's inbox until read, then are gone.";

std::string lower_first(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') {
    text[0] = static_cast<char>(text[0] - 'A' + 'a');
  }
  return text;
}

int print_error(const std::string& message, int code) {
  (void)std::fprintf(stderr, "error: %s\n", util::sanitize(message, false).c_str());
  return code;
}

std::vector<std::string> command_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands(std::function<bool(CLI::App*)>())) {
    names.push_back(sub->get_name());
  }
  return names;
}

Error unknown_command(std::string_view word, const std::vector<std::string>& commands) {
  std::string hint = "run `bch help`";
  if (auto near = util::nearest(word, commands)) {
    hint = fmt::format("did you mean `bch {}`?", *near);
  }
  return {ErrorKind::usage, fmt::format("unknown command \"{}\" — {}", word, hint)};
}

// An argument no option or positional took: most often a mistyped flag. Names the
// command it was given to and the flag it is nearest to.
int unexpected_arguments(CLI::App& app, const CLI::ExtrasError& e) {
  CLI::App* where = &app;
  for (auto* sub : app.get_subcommands()) {
    where = sub;  // the one subcommand that was parsed, if any
  }
  std::vector<std::string> extras = where->remaining();
  if (extras.empty()) {
    extras = app.remaining();
  }
  std::string command = where == &app ? "bch" : "bch " + where->get_name();
  auto flag = std::find_if(
      extras.begin(), extras.end(), [](const auto& a) { return a.size() > 1 && a[0] == '-'; });
  if (flag == extras.end()) {
    return print_error(lower_first(e.what()) + fmt::format(" — see `{} --help`", command),
                       k_exit_usage);
  }
  std::vector<std::string> flags;
  for (const auto* scope : {where, &app}) {
    for (const auto* option : scope->get_options()) {
      for (const auto& name : option->get_lnames()) {
        flags.push_back("--" + name);
      }
    }
  }
  std::string word = flag->substr(0, flag->find('='));
  std::string hint = fmt::format("see `{} --help`", command);
  if (auto near = util::nearest(word, flags)) {
    hint = fmt::format("did you mean {}? {}", *near, hint);
  }
  return print_error(fmt::format("unknown flag {} for `{}` — {}", word, command, hint),
                     k_exit_usage);
}

}  // namespace

int run(int argc, char** argv) {
  // A closed stdout must surface as EPIPE (and undo the claim), not kill us mid-drain.
  (void)std::signal(SIGPIPE, SIG_IGN);

  Globals globals;
  CLI::App app(k_description, "bch");
  app.set_version_flag("--version", version_line());
  app.add_flag("-v,--verbose", globals.verbosity, "more diagnostics on stderr");
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "only errors on stderr");
  app.add_option("--room",
                 globals.room,
                 "act in this joined room: its id (or a 4+ character prefix), `default`, or its "
                 "relay URL (`bch rooms` lists them)");
  app.require_subcommand(0, 1);
  app.fallthrough();
  app.parse_complete_callback([&] {
    if (quiet) {
      globals.verbosity = -1;
    }
    util::init_logging(globals.verbosity);
  });

  for (const auto& command : k_commands) {
    command.add(app, globals);
  }
  app.add_subcommand("version", "show the version, the commit and the target it was built for")
      ->callback([] { std::cout << version_line() << "\n"; });
  auto* help = app.add_subcommand("help", "show help for bch or one command");
  std::string help_topic;
  help->add_option("command", help_topic, "the command to explain");
  help->callback([&] {
    if (help_topic.empty()) {
      throw CLI::CallForHelp();
    }
    auto names = command_names(app);
    if (std::find(names.begin(), names.end(), help_topic) == names.end()) {
      throw unknown_command(help_topic, names);
    }
    auto* sub = app.get_subcommand(help_topic);
    std::cout << sub->help("bch");
  });

  try {
    if (argc <= 1) {
      std::cout << app.help();
      return k_exit_ok;
    }
    if (std::string_view first = argv[1]; !first.starts_with("-")) {
      auto names = command_names(app);
      if (std::find(names.begin(), names.end(), first) == names.end()) {
        auto e = unknown_command(first, names);
        return print_error(e.what(), k_exit_usage);
      }
    }
    app.parse(argc, argv);
    return k_exit_ok;
  } catch (const CLI::ExtrasError& e) {
    return unexpected_arguments(app, e);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion&) {
    std::cout << version_line() << "\n";
    return k_exit_ok;
  } catch (const CLI::ParseError& e) {
    return print_error(lower_first(e.what()) + " — see `bch --help`", k_exit_usage);
  } catch (const Error& e) {
    if (*e.what() == '\0') {
      return exit_code_for(e.kind());
    }
    return print_error(e.what(), exit_code_for(e.kind()));
  } catch (const nlohmann::json::exception& e) {
    return print_error(fmt::format("bad JSON: {}", e.what()), k_exit_failure);
  } catch (const std::exception& e) {
    return print_error(fmt::format("internal error: {}", e.what()), k_exit_failure);
  }
}

}  // namespace bch::cli
