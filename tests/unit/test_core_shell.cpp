#include "support.hpp"

#include <bch/error.hpp>
#include <bch/shell.hpp>
#include <bch/util/process.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

namespace {

std::string compiled(std::string_view tmpl) {
  return bch::compile_exec_template(tmpl).command;
}

// Runs the compiled template under /bin/sh with BCH_* set from `body`; returns stdout.
std::string run(std::string_view tmpl, const std::string& body) {
  bch::Message m{"id1", "alice", "@bob", body, bch::Priority::normal, {}, {}, {}, "t"};
  std::vector<std::string> argv{"env"};
  for (const auto& [name, value] : bch::exec_environment(m)) {
    argv.push_back(name + "=" + value);
  }
  argv.insert(argv.end(), {"sh", "-c", compiled(tmpl)});
  auto result = bch::util::run_process(argv, true, std::chrono::seconds(10));
  REQUIRE(result);
  return result->out;
}

}  // namespace

TEST_CASE("placeholders become references that only the innermost shell expands", "[shell]") {
  CHECK(compiled("echo {{body}}") == R"(echo "$BCH_BODY")");
  CHECK(compiled("sh -c 'echo {{body}}'") == R"(sh -c 'echo "$BCH_BODY"')");
  CHECK(compiled(R"(bash -c "echo {{from}}")") == R"(bash -c "echo \"\$BCH_FROM\"")");
  CHECK(compiled(R"(sh -c 'bash -c "echo {{to}}"')") == R"(sh -c 'bash -c "echo \"\$BCH_TO\""')");
  CHECK(compiled("notify --title={{id}}") == R"(notify --title="$BCH_ID")");
  CHECK(compiled("sh -c 'echo '{{body}}") == R"(sh -c 'echo '\"\$BCH_BODY\")");
  CHECK(compiled("{{priority}}{{scope}}{{thread}}")
        == R"("$BCH_PRIORITY""$BCH_SCOPE""$BCH_THREAD")");
  CHECK(compiled("no placeholders 'it''s' \"x\"") == "no placeholders 'it''s' \"x\"");
  CHECK_FALSE(bch::compile_exec_template("echo {{body}}").nested);
  CHECK(bch::compile_exec_template("ssh host 'echo {{body}}'").nested);
}

TEST_CASE("no body runs code through a template, at any quoting depth", "[shell]") {
  TempDir dir;
  std::string marker = (dir.path() / "ran").string();
  std::vector<std::string> bodies = {
      "$(touch " + marker + ")",
      "`touch " + marker + "`",
      "'; touch " + marker + "; '",
      "\"; touch " + marker + "; \"",
      "x\ntouch " + marker,
      "\\\"; touch " + marker + " #",
      "$(touch " + marker + ")'\"`touch " + marker + "`",
  };
  // Each template with whether the innermost shell sees the placeholder as a word (and
  // so prints the value) or inside quotes of its own (and so prints the reference).
  std::vector<std::pair<std::string, bool>> templates = {
      {"echo {{body}}", true},
      {"echo got: {{body}}", true},
      {"sh -c 'echo got: {{body}}'", true},
      {"bash -c 'echo got: {{body}}'", true},
      {R"(bash -c "echo got: {{body}}")", true},
      {"sh -c 'echo '{{body}}", true},
      {R"(sh -c 'bash -c "echo {{body}}"')", true},
      {R"(sh -c 'sh -c "sh -c '\''echo {{body}}'\''"')", true},
      {"printf '%s\\n' {{body}} | sh -c 'cat'", true},
      {R"(sh -c "echo \"got: {{body}}\"")", false},
      {R"(echo "got: {{body}}")", false},
  };
  for (const auto& [tmpl, shows_value] : templates) {
    for (const auto& body : bodies) {
      INFO("template: " << tmpl << "\nbody: " << body);
      std::string out = run(tmpl, body);
      CHECK_FALSE(std::filesystem::exists(marker));
      if (shows_value) {
        CHECK(out.find(body) != std::string::npos);
      } else {
        CHECK(out.find("\"$BCH_BODY\"") != std::string::npos);
      }
    }
  }
}

TEST_CASE("a placeholder outside quotes is the value, whole", "[shell]") {
  CHECK(run("printf '[%s]' {{body}}", "a  b\n*") == "[a  b\n*]");
  CHECK(run("sh -c 'printf \"[%s]\" {{body}}'", "a  b") == "[a  b]");
  // Over ssh or with an emptied environment, the reference expands to nothing.
  CHECK(run("env -u BCH_BODY sh -c 'printf \"[%s]\" {{body}}'", "secret") == "[]");
}

TEST_CASE("templates that hand a value to an interpreter are refused", "[shell]") {
  for (const char* tmpl : {"sh -c {{body}}",
                           "python3 -c {{body}}",
                           "perl -e {{body}}",
                           "eval {{body}}",
                           "eval echo {{body}}",
                           "sh -c 'eval {{body}}'",
                           ". {{body}}",
                           "bash -c 'echo $(( {{body}} + 1 ))'",
                           "bash -c '[[ {{body}} -eq 1 ]]'",
                           "sh <<EOF\necho {{body}}\nEOF"}) {
    INFO(tmpl);
    CHECK_THROWS_AS(bch::compile_exec_template(tmpl), bch::Error);
  }
  // The same words without a placeholder, or with one as a plain argument, are fine.
  CHECK_NOTHROW(bch::compile_exec_template("sh -c 'echo \"$1\"' sh {{body}}"));
  CHECK_NOTHROW(bch::compile_exec_template("eval true"));
}

TEST_CASE("unknown or broken placeholders and unbalanced quotes are usage errors", "[shell]") {
  CHECK_THROWS_AS(bch::compile_exec_template("echo {{bogus}}"), bch::Error);
  CHECK_THROWS_AS(bch::compile_exec_template("echo {{body"), bch::Error);
  CHECK_THROWS_AS(bch::compile_exec_template("echo '{{body}}"), bch::Error);
  CHECK_THROWS_AS(bch::compile_exec_template(R"(bash -c "echo it's {{body}}")"), bch::Error);
  CHECK_THROWS_AS(bch::compile_exec_template(R"(echo \"{{id}})"), bch::Error);
}

TEST_CASE("shell_quote makes one literal word", "[shell]") {
  CHECK(bch::shell_quote("it's $(x)") == R"('it'\''s $(x)')");
}

TEST_CASE("the BCH_* environment carries every field", "[shell]") {
  bch::Message m{
      "id1", "alice", "#dev", "b", bch::Priority::urgent, std::string("s"), std::nullopt, {}, "t"};
  auto env = bch::exec_environment(m);
  CHECK(env.size() == 7);
  CHECK(env[3] == std::pair<std::string, std::string>{"BCH_BODY", "b"});
  CHECK(env[4].second == "urgent");
  CHECK(env[6].second.empty());
}

TEST_CASE("a placeholder split or escaped by quoting is refused, not left in place", "[shell]") {
  // Found by fuzz_template: \\{{id}} unquotes to \{{id}}, which is no placeholder.
  CHECK_THROWS_AS(bch::compile_exec_template(R"(echo \\\\\\\\\\{{id}}\\\\)"), bch::Error);
}
