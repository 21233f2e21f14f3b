#include <bch/error.hpp>
#include <bch/shell.hpp>

#include <catch2/catch.hpp>

TEST_CASE("placeholders become variable references quoted for their context", "[shell]") {
  CHECK(bch::compile_exec_template("echo {{body}}") == R"(echo "${BCH_BODY}")");
  CHECK(bch::compile_exec_template(R"(echo "from {{from}}")") == R"(echo "from ${BCH_FROM}")");
  CHECK(bch::compile_exec_template("echo 'to {{to}}!'") == R"(echo 'to '"${BCH_TO}"'!')");
  CHECK(bch::compile_exec_template(R"(echo \"{{id}})") == R"(echo \""${BCH_ID}")");
  CHECK(bch::compile_exec_template("{{priority}}{{scope}}{{thread}}")
        == R"("${BCH_PRIORITY}""${BCH_SCOPE}""${BCH_THREAD}")");
  CHECK(bch::compile_exec_template("no placeholders") == "no placeholders");
}

TEST_CASE("unknown or broken placeholders are usage errors", "[shell]") {
  CHECK_THROWS_AS(bch::compile_exec_template("echo {{bogus}}"), bch::Error);
  CHECK_THROWS_AS(bch::compile_exec_template("echo {{body"), bch::Error);
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
