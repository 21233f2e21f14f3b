// The bch command line: a table of subcommands, the global flags, and the single place
// where errors become the "error: …" line and an exit code.

#include "cli/commands.hpp"

#include <bch/cli/cli.hpp>
#include <bch/error.hpp>
#include <bch/util/log.hpp>
#include <bch/util/text.hpp>
#include <bch/version.hpp>

#include <fmt/format.h>

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
  if (!m_settings) {
    m_settings = resolve_settings(env, config(), home());
  }
  return *m_settings;
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
    {add_room},
    {add_token},
    {add_invite},
    {add_join},
    {add_setup},
    {add_relay},
    {add_mcp},
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

}  // namespace

int run(int argc, char** argv) {
  // A closed stdout must surface as EPIPE (and undo the claim), not kill us mid-drain.
  (void)std::signal(SIGPIPE, SIG_IGN);

  Globals globals;
  CLI::App app(k_description, "bch");
  app.set_version_flag("--version", std::string("bch ") + k_version);
  app.add_flag("-v,--verbose", globals.verbosity, "more diagnostics on stderr");
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "only errors on stderr");
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
  auto* help = app.add_subcommand("help", "show help for bch or one command");
  std::string help_topic;
  help->add_option("command", help_topic, "the command to explain");
  help->callback([&] {
    if (help_topic.empty()) {
      throw CLI::CallForHelp();
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
      bool known = false;
      for (const auto* sub : app.get_subcommands(std::function<bool(CLI::App*)>())) {
        known = known || sub->get_name() == first;
      }
      if (!known) {
        help_topic = first;
        throw CLI::OptionNotFound(help_topic);
      }
    }
    app.parse(argc, argv);
    return k_exit_ok;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion&) {
    std::cout << "bch " << k_version << "\n";
    return k_exit_ok;
  } catch (const CLI::OptionNotFound&) {
    return print_error(fmt::format("unknown command \"{}\" — run `bch help`", help_topic),
                       k_exit_usage);
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
