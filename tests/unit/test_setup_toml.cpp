#include <bch/error.hpp>
#include <bch/setup/toml.hpp>

#include <catch2/catch.hpp>

using bch::setup::TomlKeys;
using Kind = bch::setup::TomlKeys::Kind;

TEST_CASE("toml: a realistic Codex config parses and its tables are found", "[setup][toml]") {
  auto keys = TomlKeys::parse(R"(# Codex settings
model = "o3"            # the default model
approval_policy = 'on-request'
notify = ["notify-send", "Codex"]
max_tokens = 1_000
ratio = 0.5e-3
enabled = true
started = 1979-05-27T07:32:00Z
day = 1979-05-27
at = 07:32:00
other = 1979-05-27 07:32:00.999

[mcp_servers.docs]
command = "npx"
args = [
  "-y",   # comment inside an array
  "@docs/server",
]
env = { "API_KEY" = "x", nested = { deep = 1 } }

[profiles."work laptop"]
model = """
multi
line "quoted" \
"""
path = '''C:\no\escapes'''

[[fruits]]
name = "apple"
[[fruits]]
name = "banana"
[fruits.physical]
color = "yellow"
)");
  CHECK(keys.kind({"mcp_servers"}) == Kind::table);
  CHECK(keys.kind({"mcp_servers", "docs"}) == Kind::table);
  CHECK(keys.kind({"mcp_servers", "docs", "env", "nested"}) == Kind::value);
  CHECK(keys.kind({"mcp_servers", "backchannel"}) == Kind::absent);
  CHECK(keys.kind({"profiles", "work laptop", "model"}) == Kind::value);
  CHECK(keys.kind({"model"}) == Kind::value);
  CHECK(keys.kind({"fruits"}) == Kind::value);
}

TEST_CASE("toml: every way of defining a table counts", "[setup][toml]") {
  CHECK(TomlKeys::parse("[mcp_servers.backchannel]\n").kind({"mcp_servers", "backchannel"})
        == Kind::table);
  CHECK(TomlKeys::parse("[mcp_servers]\nbackchannel.command = \"x\"\n")
            .kind({"mcp_servers", "backchannel"})
        == Kind::table);
  CHECK(TomlKeys::parse("mcp_servers.backchannel.command = \"x\"\n")
            .kind({"mcp_servers", "backchannel"})
        == Kind::table);
  CHECK(TomlKeys::parse("mcp_servers = { backchannel = { command = \"x\" } }\n")
            .kind({"mcp_servers", "backchannel"})
        == Kind::value);
  CHECK(TomlKeys::parse("mcp_servers = {}\n").kind({"mcp_servers"}) == Kind::value);
  CHECK(TomlKeys::parse("mcp_servers = {}\n").kind({"mcp_servers", "backchannel"}) == Kind::absent);
  CHECK(TomlKeys::parse("").kind({"mcp_servers"}) == Kind::absent);
  CHECK(TomlKeys::parse("a = 1\r\n[b]\r\n").kind({"b"}) == Kind::table);
}

TEST_CASE("toml: malformed documents are refused with their line", "[setup][toml]") {
  auto refused = [](const char* text, const char* what) {
    CAPTURE(text);
    CHECK_THROWS_WITH(TomlKeys::parse(text), Catch::Contains(what));
  };
  refused("a = 1\nb = \n", "line 2");
  refused("a = \"unterminated\n", "unterminated string");
  refused("[table\n", "']'");
  refused("a = 1\na = 2\n", "defined twice");
  refused("[t]\n[t]\n", "defined twice");
  refused("a = [1, 2\n", "array");
  refused("a = { b = 1\n", "inline table");
  refused("a = 1 b = 2\n", "after a value");
  refused("= 1\n", "key");
  refused("a = yes\n", "invalid value");
  refused("a = \"bad \\q escape\"\n", "escape");
  refused("a = {}\na.b = 1\n", "cannot hold more keys");
  refused("a = \"\"\"never closed\n", "unterminated multi-line");
  refused("{\"json\": true}\n", "key");
  refused("a = 1\rb = 2\n", "carriage return");
}

TEST_CASE("toml: strings are written escaped", "[setup][toml]") {
  CHECK(bch::setup::toml_string("/usr/bin/bch") == "\"/usr/bin/bch\"");
  CHECK(bch::setup::toml_string("C:\\a \"b\"\n") == "\"C:\\\\a \\\"b\\\"\\u000A\"");
  auto keys = TomlKeys::parse("x = " + bch::setup::toml_string("we\"ird\\\x01 path") + "\n");
  CHECK(keys.kind({"x"}) == Kind::value);
}
