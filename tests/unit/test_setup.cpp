#include "setup/home_files.hpp"
#include "support.hpp"

#include <bch/setup/setup.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

namespace fs = std::filesystem;
using bch::test::read_text;
using bch::test::TempDir;
using bch::test::write_text;

namespace {

struct Run {
  std::vector<std::string> lines;
  std::vector<std::string> errors;
};

bch::setup::Options options_for(const fs::path& home) {
  bch::setup::Options o;
  o.home = home;
  o.test_home = true;
  o.bch = "/opt/bch/bin/bch";
  o.path = "";
  return o;
}

Run run_setup(const bch::setup::Options& o) {
  Run r;
  r.errors = bch::setup::run(o, [&](const std::string& line) { r.lines.push_back(line); });
  return r;
}

// Every file under `dir` with its content: a snapshot to compare runs byte for byte.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      files[fs::relative(entry.path(), dir).string()] = read_text(entry.path());
    }
  }
  return files;
}

nlohmann::ordered_json json_of(const fs::path& file) {
  return nlohmann::ordered_json::parse(read_text(file));
}

constexpr const char* k_claude_settings = R"j({
    "model": "opus",
    "permissions": {"allow": ["Bash(git status)"]},
    "hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "audit.sh"}]}],
        "UserPromptSubmit": [{"hooks": [{"type": "command", "command": "date"}]}]
    },
    "zzz_last": 1
}
)j";

constexpr const char* k_codex_config = R"j(# my Codex settings — keep this comment
model = "o3"  # inline comment

[mcp_servers.docs]
command = "npx"
args = ["-y", "@docs/server"]   # trailing comment

[profiles.fast]
model = "o4-mini"
)j";

}  // namespace

TEST_CASE("setup edits realistic configs, keeps everything else, and is idempotent", "[setup]") {
  TempDir t;
  write_text(t.path() / ".claude/settings.json", k_claude_settings);
  write_text(
      t.path() / ".claude.json",
      R"j({"numStartups": 12, "mcpServers": {"github": {"type": "stdio", "command": "gh-mcp"}}})j");
  write_text(t.path() / ".codex/config.toml", k_codex_config);
  write_text(t.path() / ".codex/AGENTS.md", "# My rules\n\nBe brief.");
  write_text(t.path() / ".gemini/settings.json", "{\n\t\"theme\": \"Dracula\"\n}\n");

  auto first = run_setup(options_for(t.path()));
  CHECK(first.errors.empty());
  CHECK(first.lines
        == std::vector<std::string>{
            "[claude] added the UserPromptSubmit hook to ~/.claude/settings.json",
            "[claude] installed the backchannel skill in ~/.claude/skills/backchannel/SKILL.md",
            "[claude] registered the MCP server in ~/.claude.json",
            "[codex] registered the MCP server in ~/.codex/config.toml",
            "[codex] added the messaging section to ~/.codex/AGENTS.md",
            "[gemini] registered the MCP server in ~/.gemini/settings.json",
            "[gemini] added the messaging section to ~/.gemini/GEMINI.md",
        });

  // Claude Code: the hook is added after the existing one; every other key stays, in order.
  auto settings = json_of(t.path() / ".claude/settings.json");
  std::vector<std::string> keys;
  for (const auto& [key, value] : settings.items()) {
    keys.push_back(key);
  }
  CHECK(keys == std::vector<std::string>{"model", "permissions", "hooks", "zzz_last"});
  CHECK(settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"] == "audit.sh");
  auto& on_prompt = settings["hooks"]["UserPromptSubmit"];
  REQUIRE(on_prompt.size() == 2);
  CHECK(on_prompt[0]["hooks"][0]["command"] == "date");
  CHECK(
      on_prompt[1]
      == nlohmann::ordered_json::parse(
          R"j({"hooks":[{"type":"command","command":"/opt/bch/bin/bch drain --hook --match \"$(git remote get-url origin 2>/dev/null || pwd)\""}]})j"));
  // The file keeps its 4-space indentation.
  CHECK(read_text(t.path() / ".claude/settings.json").find("\n    \"model\"") != std::string::npos);

  auto claude = json_of(t.path() / ".claude.json");
  CHECK(claude["numStartups"] == 12);
  CHECK(claude["mcpServers"]["github"]["command"] == "gh-mcp");
  CHECK(claude["mcpServers"]["backchannel"]
        == nlohmann::ordered_json::parse(
            R"j({"type":"stdio","command":"/opt/bch/bin/bch","args":["mcp"]})j"));

  // Codex: the table is appended; the original text is untouched, comments included.
  std::string toml = read_text(t.path() / ".codex/config.toml");
  CHECK(toml
        == std::string(k_codex_config)
               + "\n[mcp_servers.backchannel]\ncommand = \"/opt/bch/bin/bch\"\nargs = [\"mcp\"]\n");
  std::string agents = read_text(t.path() / ".codex/AGENTS.md");
  CHECK(agents.rfind("# My rules\n\nBe brief.\n\n## Backchannel", 0) == 0);

  auto gemini = json_of(t.path() / ".gemini/settings.json");
  CHECK(gemini["theme"] == "Dracula");
  CHECK(gemini["mcpServers"]["backchannel"]
        == nlohmann::ordered_json::parse(R"j({"command":"/opt/bch/bin/bch","args":["mcp"]})j"));
  CHECK(read_text(t.path() / ".gemini/settings.json").find("\n\t\"theme\"") != std::string::npos);
  CHECK(read_text(t.path() / ".gemini/GEMINI.md")
        == std::string(bch::setup::instructions_section()));

  // A second run changes no byte and says so.
  auto before = snapshot(t.path());
  auto second = run_setup(options_for(t.path()));
  CHECK(second.errors.empty());
  CHECK(snapshot(t.path()) == before);
  CHECK(second.lines
        == std::vector<std::string>{
            "[claude] prompt hook already in ~/.claude/settings.json",
            "[claude] skill up to date in ~/.claude/skills/backchannel/SKILL.md",
            "[claude] MCP server already registered in ~/.claude.json",
            "[codex] MCP server already registered in ~/.codex/config.toml",
            "[codex] ~/.codex/AGENTS.md already mentions backchannel",
            "[gemini] MCP server already registered in ~/.gemini/settings.json",
            "[gemini] ~/.gemini/GEMINI.md already mentions backchannel",
        });
}

TEST_CASE("setup refuses a file it cannot parse, leaves it untouched, and does the rest",
          "[setup]") {
  TempDir t;
  std::string broken = "{\n  \"model\": \"opus\",\n  // a comment is not JSON\n}\n";
  write_text(t.path() / ".claude/settings.json", broken);
  std::string bad_toml = "model = \"o3\"\n[mcp_servers\n";
  write_text(t.path() / ".codex/config.toml", bad_toml);

  auto r = run_setup(options_for(t.path()));
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0]
        == "cannot edit ~/.claude/settings.json: not valid JSON (line 3) — fix it, then run `bch "
           "setup` again");
  CHECK_THAT(r.errors[1],
             Catch::StartsWith("cannot edit ~/.codex/config.toml: not valid TOML (line 2:"));
  CHECK(read_text(t.path() / ".claude/settings.json") == broken);
  CHECK(read_text(t.path() / ".codex/config.toml") == bad_toml);
  // The other steps went ahead.
  CHECK(fs::exists(t.path() / ".claude/skills/backchannel/SKILL.md"));
  CHECK(fs::exists(t.path() / ".claude.json"));
  CHECK(fs::exists(t.path() / ".codex/AGENTS.md"));
}

TEST_CASE("setup refuses settings whose shape it does not know", "[setup]") {
  TempDir t;
  write_text(t.path() / ".claude/settings.json", R"j({"hooks": {"UserPromptSubmit": "date"}})j");
  write_text(t.path() / ".claude.json", "[1, 2]");
  write_text(t.path() / ".codex/config.toml", "mcp_servers = { docs = { command = \"x\" } }\n");
  auto r = run_setup(options_for(t.path()));
  REQUIRE(r.errors.size() == 3);
  CHECK_THAT(r.errors[0], Catch::Contains("\"hooks.UserPromptSubmit\" is not an array"));
  CHECK_THAT(r.errors[1], Catch::Contains("~/.claude.json: it is not a JSON object"));
  CHECK_THAT(r.errors[2], Catch::Contains("mcp_servers is not a table"));
  CHECK(read_text(t.path() / ".claude.json") == "[1, 2]");
}

TEST_CASE("setup keeps an existing drain hook and a backchannel table as they are", "[setup]") {
  TempDir t;
  std::string settings =
      R"j({"hooks":{"UserPromptSubmit":[{"hooks":[{"type":"command","command":"/old/bch drain --hook"}]}]}})j";
  write_text(t.path() / ".claude/settings.json", settings);
  std::string toml = "[mcp_servers]\nbackchannel.command = \"/old/bch\"\n";
  write_text(t.path() / ".codex/config.toml", toml);
  write_text(t.path() / ".codex/AGENTS.md", "We use BackChannel for messages.\n");
  auto r = run_setup(options_for(t.path()));
  CHECK(r.errors.empty());
  CHECK(read_text(t.path() / ".claude/settings.json") == settings);
  CHECK(read_text(t.path() / ".codex/config.toml") == toml);
  CHECK(read_text(t.path() / ".codex/AGENTS.md") == "We use BackChannel for messages.\n");
}

TEST_CASE("setup updates an MCP registration that points at another binary", "[setup]") {
  TempDir t;
  write_text(t.path() / ".gemini/settings.json",
             R"j({"mcpServers": {"backchannel": {"command": "/old/bch", "args": ["mcp"]}}})j");
  auto r = run_setup(options_for(t.path()));
  CHECK(r.lines[0] == "[gemini] updated the MCP server in ~/.gemini/settings.json");
  CHECK(json_of(t.path() / ".gemini/settings.json")["mcpServers"]["backchannel"]["command"]
        == "/opt/bch/bin/bch");
}

TEST_CASE("setup never writes outside the home, even through a symlink", "[setup]") {
  TempDir t;
  fs::create_directories(t.path() / "home/.claude");
  fs::create_directories(t.path() / "elsewhere");
  write_text(t.path() / "elsewhere/settings.json", "{}");
  fs::create_symlink(t.path() / "elsewhere/settings.json", t.path() / "home/.claude/settings.json");
  fs::create_directory_symlink(t.path() / "elsewhere", t.path() / "home/.claude/skills");
  auto r = run_setup(options_for(t.path() / "home"));
  REQUIRE(r.errors.size() == 2);
  CHECK_THAT(r.errors[0],
             Catch::StartsWith("~/.claude/settings.json leads outside the home")
                 && Catch::EndsWith("— not touching it"));
  CHECK_THAT(r.errors[1], Catch::StartsWith("~/.claude/skills/backchannel/SKILL.md leads outside"));
  CHECK(read_text(t.path() / "elsewhere/settings.json") == "{}");
  CHECK(!fs::exists(t.path() / "elsewhere/backchannel"));
  // A symlink that stays inside the home is followed, and stays a symlink.
  fs::remove(t.path() / "home/.claude/settings.json");
  write_text(t.path() / "home/dotfiles/claude-settings.json", "{}");
  fs::create_symlink(t.path() / "home/dotfiles/claude-settings.json",
                     t.path() / "home/.claude/settings.json");
  run_setup(options_for(t.path() / "home"));
  CHECK(fs::is_symlink(t.path() / "home/.claude/settings.json"));
  CHECK(json_of(t.path() / "home/dotfiles/claude-settings.json").contains("hooks"));
}

TEST_CASE("setup detects harnesses by folder or by CLI on PATH, or says none", "[setup]") {
  TempDir t;
  fs::create_directories(t.path() / "home");
  auto r = run_setup(options_for(t.path() / "home"));
  CHECK(r.lines
        == std::vector<std::string>{
            "[none] no known harness detected — see docs/integrations/generic.md"});
  CHECK(bch::test::count_entries(t.path() / "home") == 0);

  write_text(t.path() / "bin/codex", "#!/bin/sh\n");
  ::chmod((t.path() / "bin/codex").c_str(), 0755);
  auto o = options_for(t.path() / "home");
  o.path = "/nonexistent:" + (t.path() / "bin").string();
  r = run_setup(o);
  REQUIRE(r.lines.size() == 2);
  CHECK(r.lines[0] == "[codex] registered the MCP server in ~/.codex/config.toml");
  CHECK(fs::exists(t.path() / "home/.codex/config.toml"));
}

TEST_CASE("setup keeps file permissions and skips the hook with --no-hooks", "[setup]") {
  TempDir t;
  write_text(t.path() / ".claude.json", "{}");
  ::chmod((t.path() / ".claude.json").c_str(), 0640);
  auto o = options_for(t.path());
  o.hooks = false;
  fs::create_directories(t.path() / ".claude");
  auto r = run_setup(o);
  CHECK(r.lines[0] == "[claude] prompt hook not installed (--no-hooks)");
  CHECK(!fs::exists(t.path() / ".claude/settings.json"));
  struct stat st {};
  REQUIRE(::stat((t.path() / ".claude.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("the hook command quotes a binary path that needs it", "[setup]") {
  CHECK(bch::setup::hook_command("/usr/local/bin/bch")
        == "/usr/local/bin/bch drain --hook --match \"$(git remote get-url origin 2>/dev/null || "
           "pwd)\"");
  CHECK(bch::setup::hook_command("/home/a b/it's/bch").rfind("'/home/a b/it'\\''s/bch' drain", 0)
        == 0);
}

TEST_CASE("the wake service runs bch watch --notify and nothing else", "[setup]") {
  TempDir t;
  auto o = options_for(t.path());
  o.bch = "/home/x y/100%/$bin/bch";
  o.backchannel_home = "/home/x y/.bch";
  o.wake = true;
  auto r = run_setup(o);
  CHECK(r.errors.empty());
  CHECK(r.lines.back() == "[wake] not started: BACKCHANNEL_SETUP_HOME is set");
  std::string unit = read_text(t.path() / ".config/systemd/user/backchannel-wake.service");
  CHECK(unit == bch::setup::systemd_unit(o));
  CHECK_THAT(
      unit,
      Catch::Contains("\nExecStart=\"/home/x y/100%%/$$bin/bch\" watch --urgent-only --notify\n")
          && Catch::Contains("\nEnvironment=\"BACKCHANNEL_HOME=/home/x y/.bch\"\n")
          && Catch::Contains("\nRestart=on-failure\n"));
  std::string plist = bch::setup::launchd_plist(o);
  CHECK_THAT(plist,
             Catch::Contains("<string>/home/x y/100%/$bin/bch</string>")
                 && Catch::Contains("<string>--notify</string>"));
}

TEST_CASE("the built-in skill is the repository's SKILL.md", "[setup]") {
  CHECK(std::string(bch::setup::skill_text()) == read_text(fs::path(BCH_SOURCE_DIR) / "SKILL.md"));
}

TEST_CASE("setup edits the text: every byte outside the added key stays", "[setup]") {
  TempDir t;
  // Compact arrays, a number no double can hold, 1E2, odd spacing, a trailing comment.
  std::string settings =
      "{\n"
      "  \"big\": 123456789012345678901234567890,\n"
      "  \"e\": 1E2,\n"
      "  \"permissions\": {\"allow\": [\"Bash(ls)\", \"Read\"]},\n"
      "  \"hooks\": {\n"
      "    \"UserPromptSubmit\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"date\"}]}]\n"
      "  }\n"
      "}\n";
  write_text(t.path() / ".claude/settings.json", settings);
  std::string claude = R"({"numStartups":12,"tips":[1,2,3],"mcpServers":{}})";
  write_text(t.path() / ".claude.json", claude);
  std::string gemini =
      "// Gemini settings\n"
      "{\n"
      "  \"theme\": \"Dracula\", // my theme\n"
      "  /* numbers */ \"n\": 1.50\n"
      "}\n";
  write_text(t.path() / ".gemini/settings.json", gemini);
  auto run = run_setup(options_for(t.path()));
  CHECK(run.errors.empty());

  std::string hook =
      R"({"hooks":[{"type":"command","command":"/opt/bch/bin/bch drain --hook --match \"$(git remote get-url origin 2>/dev/null || pwd)\""}]})";
  std::string after = read_text(t.path() / ".claude/settings.json");
  std::string prefix = settings.substr(0, settings.find("]}]\n") + 2);
  CHECK(after.starts_with(prefix + ", {\"hooks\": [{\"type\": \"command\", \"command\": "));
  CHECK(after.find("123456789012345678901234567890") != std::string::npos);
  CHECK(after.find("\"e\": 1E2,") != std::string::npos);
  CHECK(after.find("\"permissions\": {\"allow\": [\"Bash(ls)\", \"Read\"]},") != std::string::npos);
  CHECK(after.ends_with("\n  }\n}\n"));
  CHECK(nlohmann::json::parse(after)["hooks"]["UserPromptSubmit"][1]
        == nlohmann::json::parse(hook));

  CHECK(
      read_text(t.path() / ".claude.json")
      == R"({"numStartups":12,"tips":[1,2,3],"mcpServers":{"backchannel":{"type":"stdio","command":"/opt/bch/bin/bch","args":["mcp"]}}})");

  std::string g = read_text(t.path() / ".gemini/settings.json");
  CHECK(
      g.starts_with("// Gemini settings\n{\n  \"theme\": \"Dracula\", // my theme\n  /* numbers */ "
                    "\"n\": 1.50,\n  \"mcpServers\": {\n    \"backchannel\": {\n"));
  CHECK(nlohmann::json::parse(g, nullptr, true, true)["mcpServers"]["backchannel"]["command"]
        == "/opt/bch/bin/bch");

  // Idempotent, byte for byte.
  auto before = snapshot(t.path());
  CHECK(run_setup(options_for(t.path())).errors.empty());
  CHECK(snapshot(t.path()) == before);
}

TEST_CASE("setup refuses a read-only or non-regular settings file and leaves it as it is",
          "[setup]") {
  TempDir t;
  write_text(t.path() / ".claude/settings.json", "{\"a\": 1}\n");
  ::chmod((t.path() / ".claude/settings.json").c_str(), 0444);
  ::mkfifo((t.path() / ".claude.json").c_str(), 0600);
  auto run = run_setup(options_for(t.path()));
  REQUIRE(run.errors.size() == 2);
  CHECK(run.errors[0]
        == "cannot edit ~/.claude/settings.json: it is read-only (mode 0444) — not touching it");
  CHECK(run.errors[1].find("~/.claude.json") != std::string::npos);
  CHECK(run.errors[1].find("is not a regular file") != std::string::npos);
  CHECK(read_text(t.path() / ".claude/settings.json") == "{\"a\": 1}\n");
  struct stat st {};
  REQUIRE(::stat((t.path() / ".claude/settings.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0444);
  CHECK(fs::is_fifo(t.path() / ".claude.json"));
}

TEST_CASE("setup --undo gives the user's files back byte for byte", "[setup]") {
  TempDir t;
  write_text(t.path() / ".claude/settings.json", k_claude_settings);
  write_text(t.path() / ".claude.json",
             R"({"numStartups":12,"mcpServers":{"other":{"command":"x"}}})");
  write_text(t.path() / ".codex/config.toml", k_codex_config);
  write_text(t.path() / ".codex/AGENTS.md", "# Rules\nBe terse.");  // no final newline
  write_text(t.path() / ".gemini/settings.json", "// mine\n{\"theme\": \"Dracula\" /* x */}\n");
  auto before = snapshot(t.path());

  auto o = options_for(t.path());
  o.dry_run = true;
  auto dry = run_setup(o);
  CHECK(dry.errors.empty());
  CHECK(snapshot(t.path()) == before);
  REQUIRE(!dry.lines.empty());
  CHECK(dry.lines.back() == "dry run: 7 files would change; nothing was written");

  CHECK(run_setup(options_for(t.path())).errors.empty());
  CHECK(snapshot(t.path()) != before);
  o = options_for(t.path());
  o.undo = true;
  auto undone = run_setup(o);
  CHECK(undone.errors.empty());
  auto after = snapshot(t.path());
  // AGENTS.md had no final newline: setup added one before its section, and it stays.
  CHECK(after[".codex/AGENTS.md"] == "# Rules\nBe terse.\n");
  after[".codex/AGENTS.md"] = before[".codex/AGENTS.md"];
  CHECK(after == before);
}

TEST_CASE("a dry run's diff shows one hunk with context around the change", "[setup]") {
  using bch::setup::Change;
  Change change{"~/f", "a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nd\nE\nf\ng\nh\n"};
  CHECK(bch::setup::unified_diff(change)
        == "--- ~/f\n+++ ~/f\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n");
  Change created{"~/n", std::nullopt, "x\ny"};
  CHECK(bch::setup::unified_diff(created)
        == "--- /dev/null\n+++ ~/n\n@@ -0,0 +1,2 @@\n+x\n+y\n\\ No newline at end of file\n");
  Change removed{"~/r", "\x1b[31mred\n", std::nullopt};
  CHECK(bch::setup::unified_diff(removed)
        == "--- ~/r\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-\xEF\xBF\xBD[31mred\n");
}

TEST_CASE("setup refuses a settings file holding a number no double holds", "[setup]") {
  TempDir t;
  write_text(t.path() / ".claude/settings.json", "{\"a\": 1E400}\n");
  auto run = run_setup(options_for(t.path()));
  REQUIRE(run.errors.size() == 1);
  CHECK(run.errors[0]
        == "cannot edit ~/.claude/settings.json: it holds a number out of range — not touching it");
  CHECK(read_text(t.path() / ".claude/settings.json") == "{\"a\": 1E400}\n");
  CHECK(fs::exists(t.path() / ".claude.json"));  // the other steps are done
}

namespace {

bch::setup::Options remote_for(const fs::path& home, std::string token = "tok-1") {
  auto o = options_for(home);
  o.remote = bch::setup::Remote{"https://relay.example/mcp", std::move(token), "r1"};
  return o;
}

std::string mode_of(const fs::path& file) {
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  return fmt::format("{:04o}", st.st_mode & 07777);
}

}  // namespace

TEST_CASE("setup --remote registers the relay's /mcp endpoint in each harness", "[setup]") {
  TempDir t;
  write_text(t.path() / ".claude/settings.json", k_claude_settings);
  write_text(t.path() / ".claude.json", R"j({"numStartups": 12})j");
  ::chmod((t.path() / ".claude.json").c_str(), 0644);
  write_text(t.path() / ".codex/config.toml", k_codex_config);
  ::chmod((t.path() / ".codex/config.toml").c_str(), 0600);
  fs::create_directories(t.path() / ".gemini");

  auto first = run_setup(remote_for(t.path()));
  CHECK(first.errors.empty());
  CHECK(first.lines
        == std::vector<std::string>{
            "[claude] added the UserPromptSubmit hook to ~/.claude/settings.json",
            "[claude] installed the backchannel skill in ~/.claude/skills/backchannel/SKILL.md",
            "[claude] registered the relay's MCP endpoint in ~/.claude.json (now mode 0600: it "
            "holds the agent token)",
            "[codex] registered the relay's MCP endpoint in ~/.codex/config.toml",
            "[codex] added the messaging section to ~/.codex/AGENTS.md",
            "[gemini] registered the relay's MCP endpoint in ~/.gemini/settings.json",
            "[gemini] added the messaging section to ~/.gemini/GEMINI.md",
        });
  auto headers = nlohmann::ordered_json::parse(
      R"j({"Authorization": "Bearer tok-1", "X-Backchannel-Room": "r1"})j");
  CHECK(json_of(t.path() / ".claude.json")["mcpServers"]["backchannel"]
        == nlohmann::ordered_json{
            {"type", "http"}, {"url", "https://relay.example/mcp"}, {"headers", headers}});
  CHECK(json_of(t.path() / ".gemini/settings.json")["mcpServers"]["backchannel"]
        == nlohmann::ordered_json{{"httpUrl", "https://relay.example/mcp"}, {"headers", headers}});
  CHECK(read_text(t.path() / ".codex/config.toml")
        == std::string(k_codex_config)
               + "\n[mcp_servers.backchannel]\nurl = \"https://relay.example/mcp\"\n"
                 "http_headers = { \"Authorization\" = \"Bearer tok-1\", \"X-Backchannel-Room\" = "
                 "\"r1\" }\n");
  // Each file holding the token is the user's alone.
  CHECK(mode_of(t.path() / ".claude.json") == "0600");
  CHECK(mode_of(t.path() / ".gemini/settings.json") == "0600");
  CHECK(mode_of(t.path() / ".codex/config.toml") == "0600");

  // Again: no byte changes.
  auto before = snapshot(t.path());
  auto second = run_setup(remote_for(t.path()));
  CHECK(second.errors.empty());
  CHECK(snapshot(t.path()) == before);
  CHECK(second.lines[2] == "[claude] MCP server already registered in ~/.claude.json");
  CHECK(second.lines[3] == "[codex] MCP server already registered in ~/.codex/config.toml");

  // A rotated token: each entry is brought up to date in place.
  auto rotated = run_setup(remote_for(t.path(), "tok-2"));
  CHECK(rotated.errors.empty());
  CHECK(rotated.lines[2] == "[claude] updated the relay's MCP endpoint in ~/.claude.json");
  CHECK(rotated.lines[3] == "[codex] updated the relay's MCP endpoint in ~/.codex/config.toml");
  CHECK(read_text(t.path() / ".codex/config.toml").find("tok-1") == std::string::npos);
  CHECK(read_text(t.path() / ".codex/config.toml").find("\"Bearer tok-2\"") != std::string::npos);
  CHECK(json_of(t.path()
                / ".gemini/settings.json")["mcpServers"]["backchannel"]["headers"]["Authorization"]
        == "Bearer tok-2");
}

TEST_CASE("setup switches between the stdio and the remote entry, and --undo takes out either",
          "[setup]") {
  TempDir t;
  fs::create_directories(t.path() / ".claude");
  write_text(t.path() / ".claude.json",
             R"({"numStartups":12,"mcpServers":{"other":{"command":"x"}}})");
  write_text(t.path() / ".codex/config.toml", k_codex_config);
  write_text(t.path() / ".gemini/settings.json", "// mine\n{\"theme\": \"Dracula\" /* x */}\n");
  ::chmod((t.path() / ".codex/config.toml").c_str(), 0600);
  ::chmod((t.path() / ".gemini/settings.json").c_str(), 0600);
  ::chmod((t.path() / ".claude.json").c_str(), 0600);
  auto original = snapshot(t.path());

  REQUIRE(run_setup(options_for(t.path())).errors.empty());
  auto local = snapshot(t.path());
  auto remote = run_setup(remote_for(t.path()));
  CHECK(remote.errors.empty());
  CHECK(std::count(remote.lines.begin(),
                   remote.lines.end(),
                   "[codex] updated the relay's MCP endpoint in ~/.codex/config.toml")
        == 1);
  std::string toml = read_text(t.path() / ".codex/config.toml");
  CHECK(toml.find("command = \"/opt/bch/bin/bch\"") == std::string::npos);
  CHECK(toml.find("url = \"https://relay.example/mcp\"") != std::string::npos);
  CHECK(json_of(t.path() / ".claude.json")["mcpServers"]["backchannel"]["type"] == "http");

  // Back to stdio: the files are as a stdio setup left them.
  CHECK(run_setup(options_for(t.path())).errors.empty());
  CHECK(snapshot(t.path()) == local);

  // --undo recognises the remote entries setup wrote.
  REQUIRE(run_setup(remote_for(t.path())).errors.empty());
  auto o = options_for(t.path());
  o.undo = true;
  auto undone = run_setup(o);
  CHECK(undone.errors.empty());
  CHECK(std::count(undone.lines.begin(),
                   undone.lines.end(),
                   "[gemini] removed the MCP server from ~/.gemini/settings.json")
        == 1);
  CHECK(snapshot(t.path()) == original);
}

TEST_CASE("setup --remote leaves a table it did not write and refuses what no header carries",
          "[setup]") {
  TempDir t;
  std::string toml =
      "[mcp_servers.backchannel]\ncommand = \"/x/bch\"\nargs = [\"mcp\"]\ncwd = \"/\"\n";
  write_text(t.path() / ".codex/config.toml", toml);
  auto r = run_setup(remote_for(t.path()));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0]
        == "cannot edit ~/.codex/config.toml: [mcp_servers.backchannel] holds keys setup did not "
           "write — take the table out, then run `bch setup --remote` again");
  CHECK(read_text(t.path() / ".codex/config.toml") == toml);

  // A token or room no HTTP header can carry (a line break would add a header of its
  // own to every request) is refused before any file is touched.
  TempDir u;
  fs::create_directories(u.path() / ".gemini");
  auto o = remote_for(u.path(), "tok\r\nX-Evil: 1");
  auto bad = run_setup(o);
  REQUIRE(bad.errors.size() == 1);
  CHECK(bad.errors[0] == "the agent token holds characters an HTTP header cannot carry");
  CHECK(!fs::exists(u.path() / ".gemini/settings.json"));
}

TEST_CASE("doctor's inspection sees the remote entries and the token they hold", "[setup]") {
  TempDir t;
  fs::create_directories(t.path() / ".claude");
  fs::create_directories(t.path() / ".codex");
  fs::create_directories(t.path() / ".gemini");
  REQUIRE(run_setup(remote_for(t.path())).errors.empty());
  auto wired = bch::setup::inspect(options_for(t.path()));
  REQUIRE(wired.size() == 4);
  for (const auto& w : wired) {
    if (w.what == "prompt hook") {
      CHECK(w.program == "/opt/bch/bin/bch");
      continue;
    }
    INFO(w.harness);
    CHECK(!w.program);
    CHECK(w.url == "https://relay.example/mcp");
    CHECK(w.token == "tok-1");
    CHECK(w.room == "r1");
  }
}

TEST_CASE("setup --undo refuses a config.toml that is not TOML and leaves it as it is", "[setup]") {
  // Found by fuzz_setup: two [mcp_servers.backchannel] headers (not TOML) lost one per undo.
  TempDir t;
  std::string toml = "[mcp_servers.backchannel]\n[x]\n[mcp_servers.backchannel]\n";
  write_text(t.path() / ".codex/config.toml", toml);
  auto o = options_for(t.path());
  o.undo = true;
  auto r = run_setup(o);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].rfind("cannot edit ~/.codex/config.toml: not valid TOML (", 0) == 0);
  CHECK(read_text(t.path() / ".codex/config.toml") == toml);
}
