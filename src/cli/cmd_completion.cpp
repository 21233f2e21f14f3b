// `bch completion bash|zsh|fish`: a completion script made from the command table
// itself, so it never lags behind a new command or flag. `make install` writes each
// one where its shell looks.
#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <bch/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace bch::cli {
namespace {

struct Flag {
  std::string name;  // "--json"
  std::string description;
};

struct Entry {
  std::string path;  // "send", "room new"
  std::string description;
  std::vector<Flag> flags;
  std::vector<std::string> subcommands;
};

// The first line of a description, without characters any of the shells treat
// specially inside the quotes we use.
std::string plain(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, text.find('\n'))) {
    out += c == '\'' || c == '"' || c == '\\' || c == '`' || c == '$' ? ' ' : c;
  }
  return out;
}

std::vector<Flag> flags_of(const CLI::App& app) {
  std::vector<Flag> out;
  for (const auto* option : app.get_options()) {
    for (const auto& name : option->get_lnames()) {
      out.push_back({"--" + name, plain(option->get_description())});
    }
  }
  return out;
}

void collect(const CLI::App& app, const std::string& prefix, std::vector<Entry>& out) {
  for (const auto* sub : app.get_subcommands(std::function<bool(const CLI::App*)>())) {
    Entry e{prefix + sub->get_name(), plain(sub->get_description()), flags_of(*sub), {}};
    for (const auto* nested : sub->get_subcommands(std::function<bool(const CLI::App*)>())) {
      e.subcommands.push_back(nested->get_name());
    }
    out.push_back(e);
    collect(*sub, e.path + " ", out);
  }
}

std::string words(const std::vector<Flag>& flags, const std::vector<std::string>& more = {}) {
  std::string out;
  for (const auto& w : more) {
    out += (out.empty() ? "" : " ") + w;
  }
  for (const auto& f : flags) {
    out += (out.empty() ? "" : " ") + f.name;
  }
  return out;
}

std::string bash(const CLI::App& app, const std::vector<Entry>& entries) {
  std::vector<std::string> top;
  for (const auto& e : entries) {
    if (e.path.find(' ') == std::string::npos) {
      top.push_back(e.path);
    }
  }
  // Longest paths first: "room new" must be tried before "room"; words after a
  // command's path (its arguments) do not change what it completes.
  std::vector<Entry> longest = entries;
  std::stable_sort(longest.begin(), longest.end(), [](const Entry& a, const Entry& b) {
    return a.path.size() > b.path.size();
  });
  std::string cases;
  for (const auto& e : longest) {
    cases +=
        fmt::format("    '{0}' | '{0} '*) words='{1}' ;;\n", e.path, words(e.flags, e.subcommands));
  }
  return fmt::format(
      "# bash completion for bch (made by `bch completion bash`)\n"
      "_bch() {{\n"
      "  local cur=${{COMP_WORDS[COMP_CWORD]}} path= words= i\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case ${{COMP_WORDS[i]}} in -*) ;; *) path=\"${{path:+$path }}${{COMP_WORDS[i]}}\" ;; "
      "esac\n"
      "  done\n"
      "  case $path in\n"
      "    '') words='{}' ;;\n"
      "{}"
      "    *) words= ;;\n"
      "  esac\n"
      "  COMPREPLY=($(compgen -W \"$words {}\" -- \"$cur\"))\n"
      "}}\n"
      "complete -o default -F _bch bch\n",
      words(flags_of(app), top),
      cases,
      words(flags_of(app)));
}

std::string zsh(const CLI::App& app, const std::vector<Entry>& entries) {
  std::string commands;
  std::string cases;
  for (const auto& e : entries) {
    if (e.path.find(' ') == std::string::npos) {
      commands += fmt::format("    '{}:{}'\n", e.path, e.description);
    }
    cases += fmt::format("    '{}') compadd -- {} ;;\n", e.path, words(e.flags, e.subcommands));
  }
  return fmt::format(
      "#compdef bch\n"
      "# zsh completion for bch (made by `bch completion zsh`)\n"
      "_bch() {{\n"
      "  local -a commands\n"
      "  commands=(\n{}  )\n"
      "  local cmd= i\n"  // not `path`: zsh ties that to $PATH
      "  for ((i = 2; i < CURRENT; i++)); do\n"
      "    [[ $words[i] == -* ]] || cmd=\"${{cmd:+$cmd }}$words[i]\"\n"
      "  done\n"
      "  if [[ -z $cmd ]]; then\n"
      "    _describe 'command' commands\n"
      "    compadd -- {}\n"
      "    return\n"
      "  fi\n"
      "  case $cmd in\n"
      "{}"
      "  esac\n"
      "  compadd -- {}\n"
      "}}\n"
      "_bch \"$@\"\n",
      commands,
      words(flags_of(app)),
      cases,
      words(flags_of(app)));
}

std::string fish(const CLI::App& app, const std::vector<Entry>& entries) {
  std::string out =
      "# fish completion for bch (made by `bch completion fish`)\n"
      "complete -c bch -f\n";
  for (const auto& f : flags_of(app)) {
    out += fmt::format("complete -c bch -l '{}' -d '{}'\n", f.name.substr(2), f.description);
  }
  for (const auto& e : entries) {
    auto space = e.path.find(' ');
    if (space == std::string::npos) {
      out += fmt::format(
          "complete -c bch -n __fish_use_subcommand -a '{}' -d '{}'\n", e.path, e.description);
    } else {
      out += fmt::format("complete -c bch -n '__fish_seen_subcommand_from {}' -a '{}' -d '{}'\n",
                         e.path.substr(0, space),
                         e.path.substr(space + 1),
                         e.description);
    }
    std::string last =
        e.path.substr(e.path.rfind(' ') == std::string::npos ? 0 : e.path.rfind(' ') + 1);
    for (const auto& f : e.flags) {
      out += fmt::format("complete -c bch -n '__fish_seen_subcommand_from {}' -l '{}' -d '{}'\n",
                         last,
                         f.name.substr(2),
                         f.description);
    }
  }
  return out;
}

}  // namespace

void add_completion(CLI::App& app, Globals&) {
  auto shell = std::make_shared<std::string>();
  auto* cmd =
      app.add_subcommand("completion", "print a shell completion script (bash, zsh or fish)");
  cmd->add_option("shell", *shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  cmd->callback([shell, &app] {
    std::vector<Entry> entries;
    collect(app, "", entries);
    print(*shell == "bash"  ? bash(app, entries)
          : *shell == "zsh" ? zsh(app, entries)
                            : fish(app, entries));
  });
}

}  // namespace bch::cli
