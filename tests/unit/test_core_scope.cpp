#include <bch/scope.hpp>

#include <catch2/catch.hpp>

using bch::scope_matches;

namespace {
bool matches(const char* scope, const char* match) {
  return scope_matches(std::string(scope), std::string(match));
}
}  // namespace

TEST_CASE("scope normalisation follows SPEC section 3", "[scope]") {
  using V = std::vector<std::string>;
  CHECK(bch::scope_segments("https://GitHub.com/Org/MyRepo.git")
        == V{"github.com", "org", "myrepo"});
  CHECK(bch::scope_segments("git@github.com:org/myrepo") == V{"github.com", "org", "myrepo"});
  CHECK(bch::scope_segments("http://x/y/") == V{"x", "y"});
  CHECK(bch::scope_segments("/home/a/src/myrepo") == V{"home", "a", "src", "myrepo"});
  CHECK(bch::scope_segments("").empty());
}

TEST_CASE("every scope example of SPEC section 3", "[scope]") {
  CHECK(matches("myrepo", "github.com/org/myrepo"));
  CHECK(matches("org/myrepo", "github.com/org/myrepo"));
  CHECK(matches("https://github.com/org/myrepo.git", "git@github.com:org/myrepo"));
  CHECK_FALSE(matches("myrepo", "github.com/org/notmyrepo"));
  CHECK_FALSE(matches("otherrepo", "github.com/org/myrepo"));
  CHECK(matches("myrepo", "/home/a/src/myrepo"));
  CHECK_FALSE(matches("myrepo", "/home/a/src/myrepo-old"));
}

TEST_CASE("segments must be contiguous and in order", "[scope]") {
  CHECK_FALSE(matches("org/myrepo", "github.com/org/x/myrepo"));
  CHECK_FALSE(matches("myrepo/org", "github.com/org/myrepo"));
  CHECK(matches("MyRepo", "github.com/org/myrepo"));
}

TEST_CASE("unscoped messages match everyone, scoped ones need a match", "[scope]") {
  CHECK(scope_matches(std::nullopt, std::nullopt));
  CHECK(scope_matches(std::nullopt, std::string("anything")));
  CHECK_FALSE(scope_matches(std::string("myrepo"), std::nullopt));
}
