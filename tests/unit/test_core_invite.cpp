#include <bch/error.hpp>
#include <bch/invite.hpp>

#include <catch2/catch.hpp>

TEST_CASE("invites round-trip and are bch1- plus unpadded base64url JSON", "[invite]") {
  bch::Invite invite{
      "https://relay.example:8443/bch", std::string("t0k"), std::string("r1"), {"#a", "#b"}};
  std::string text = bch::encode_invite(invite);
  CHECK(text.starts_with("bch1-"));
  CHECK(text.find('=') == std::string::npos);
  CHECK(text.find('+') == std::string::npos);
  CHECK(text.find('/') == std::string::npos);
  CHECK(
      bch::base64url_decode(text.substr(5))
      == R"({"url":"https://relay.example:8443/bch","token":"t0k","room":"r1","channels":["#a","#b"]})");
  auto back = bch::decode_invite(text + "\n");
  CHECK(back.url == invite.url);
  CHECK(back.token == invite.token);
  CHECK(back.room == invite.room);
  CHECK(back.channels == invite.channels);
}

TEST_CASE("an invite of the TypeScript tool decodes", "[invite]") {
  // {"url":"http://10.0.0.5:7117","token":"s3cret","channels":["dev"]}
  auto invite = bch::decode_invite(
      "bch1-"
      + bch::base64url_encode(
          R"({"url":"http://10.0.0.5:7117","token":"s3cret","channels":["dev"]})"));
  CHECK(invite.url == "http://10.0.0.5:7117");
  CHECK_FALSE(invite.room);
  CHECK(invite.channels == std::vector<std::string>{"#dev"});
}

TEST_CASE("bad invites get the spec's messages", "[invite]") {
  CHECK_THROWS_WITH(bch::decode_invite("hello"),
                    "not a backchannel invite (expected it to start with bch1-)");
  CHECK_THROWS_WITH(bch::decode_invite("bch1-!!!"), "malformed invite");
  CHECK_THROWS_WITH(bch::decode_invite("bch1-" + bch::base64url_encode("not json")),
                    "malformed invite");
  CHECK_THROWS_WITH(bch::decode_invite("bch1-" + bch::base64url_encode(R"({"token":"x"})")),
                    "malformed invite: missing relay url");
  CHECK_THROWS_WITH(
      bch::decode_invite("bch1-" + bch::base64url_encode(R"({"url":"u","channels":"#a"})")),
      "malformed invite");
  CHECK_THROWS_AS(
      bch::decode_invite("bch1-" + bch::base64url_encode(R"({"url":"u","channels":["#../x"]})")),
      bch::Error);
}

TEST_CASE("base64url handles every tail length", "[invite]") {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\xff\xfe\x00", 3)}) {
    CHECK(bch::base64url_decode(bch::base64url_encode(s)) == s);
  }
  CHECK(bch::base64url_encode("\xfb\xff") == "-_8");
  CHECK_FALSE(bch::base64url_decode("a"));
}
