// Vectors published with Twilio's libraries (twilio-python, twilio-node).
#include "net/twilio_signature.h"

#include <gtest/gtest.h>

namespace sluice::net::twilio {
namespace {

const Form kParams = {{"CallSid", "CA1234567890ABCDE"},
                      {"Caller", "+14158675309"},
                      {"Digits", "1234"},
                      {"From", "+14158675309"},
                      {"To", "+18005551212"}};

TEST(TwilioSignature, LibraryVectorForFormParams) {
  EXPECT_EQ(compute_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", kParams),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
  EXPECT_TRUE(validate_form("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", kParams,
                            "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
}

TEST(TwilioSignature, ExplicitDefaultPortIsAcceptedBothWays) {
  EXPECT_EQ(compute_signature("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", kParams),
            "kvajT1Ptam85bY51eRf/AJRuM3w=");
  // Signed with the port, requested without it, and the other way round.
  EXPECT_TRUE(validate_form("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", kParams,
                            "kvajT1Ptam85bY51eRf/AJRuM3w="));
  EXPECT_TRUE(validate_form("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", kParams,
                            "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
}

TEST(TwilioSignature, JsonBodyWithBodySha256) {
  const std::string body = R"({"property": "value", "boolean": true})";
  const std::string hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
  EXPECT_EQ(sha256_hex(body), hash);
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=" + hash;
  EXPECT_EQ(compute_signature("12345", url, {}), "a9nBmqA0ju/hNViExpshrM61xv4=");
  EXPECT_TRUE(validate_json("12345", url, body, "a9nBmqA0ju/hNViExpshrM61xv4="));
  EXPECT_FALSE(validate_json("12345", url, body + " ", "a9nBmqA0ju/hNViExpshrM61xv4="));
}

TEST(TwilioSignature, AnyChangeIsRejected) {
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  const std::string good = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
  Form changed = kParams;
  changed[2].value = "1235";
  EXPECT_FALSE(validate_form("12345", url, changed, good));
  EXPECT_FALSE(validate_form("12346", url, kParams, good));
  EXPECT_FALSE(validate_form("12345", url + "&x=1", kParams, good));
  EXPECT_FALSE(validate_form("12345", url, kParams, "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
  EXPECT_FALSE(validate_form("12345", url, kParams, ""));
}

TEST(TwilioSignature, RepeatedNamesSortValuesAndIgnoreOrder) {
  const Form a = {{"b", "2"}, {"a", "y"}, {"a", "x"}};
  const Form b = {{"a", "x"}, {"b", "2"}, {"a", "y"}};
  EXPECT_EQ(compute_signature("t", "https://h/p", a), compute_signature("t", "https://h/p", b));
  // data = url + "ax" + "ay" + "b2"
  EXPECT_EQ(compute_signature("t", "https://h/p", a),
            compute_signature("t", "https://h/p", Form{{"a", "xay"}, {"b", "2"}}));
}

TEST(Form, ParsesDecodesAndGroupsRepeatedNames) {
  auto f = parse_form("To=%2B1555&Body=caf%C3%A9+au+lait&Empty=&Flag&Tag=a&Tag=b&&");
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ(*f, (Form{{"To", "+1555"}, {"Body", "café au lait"}, {"Empty", ""}, {"Flag", ""}, {"Tag", "a"},
                      {"Tag", "b"}}));
  EXPECT_EQ(form_to_json(*f), R"({"To":"+1555","Body":"café au lait","Empty":"","Flag":"","Tag":["a","b"]})");
  EXPECT_EQ(parse_form(encode_form(*f)).value(), *f);
}

TEST(Form, JsonTextEscapesWhatJsonMust) {
  // Quotes, backslashes and control characters, and a name repeated apart.
  const Form f{{"q\"\\", "line\nbreak\ttab\x01"}, {"n", "1"}, {"q\"\\", "again"}};
  const std::string text = form_to_json(f);
  boost::system::error_code ec;
  const auto v = boost::json::parse(text, ec);
  ASSERT_FALSE(ec) << text;
  const auto& o = v.as_object();
  ASSERT_EQ(o.size(), 2u) << text;
  EXPECT_EQ(o.at("q\"\\").as_array().at(0).as_string(), "line\nbreak\ttab\x01");
  EXPECT_EQ(o.at("q\"\\").as_array().at(1).as_string(), "again");
  EXPECT_EQ(o.at("n").as_string(), "1");
  EXPECT_EQ(form_to_json({}), "{}");
}

TEST(Signature, VerifierAppendsTheRequestQueryAndTriesBothPorts) {
  const Form params{{"MessageSid", "SM1"}, {"MessageStatus", "delivered"}};
  const Verifier v("token", "https://hooks.example.com/twilio/status");
  const auto with_port = compute_signature("token", "https://hooks.example.com:443/twilio/status?a=1", params);
  EXPECT_TRUE(v.form("a=1", params, with_port));
  EXPECT_FALSE(v.form("a=2", params, with_port));
  EXPECT_FALSE(v.form("a=1", {{"MessageSid", "SM1"}}, with_port));
  EXPECT_FALSE(v.form("a=1", params, "bm90IGEgc2lnbmF0dXJl"));
}

TEST(Form, MalformedBodiesAreErrors) {
  EXPECT_EQ(parse_form("a=%zz").error(), "field 'a': bad %-escape at byte 0");
  EXPECT_EQ(parse_form("a=%4").error(), "field 'a': truncated %-escape at byte 0");
  EXPECT_EQ(parse_form("a=%ff%fe").error(), "field 'a': not UTF-8");
  EXPECT_EQ(parse_form("=x").error(), "a field has an empty name");
  EXPECT_TRUE(parse_form("").value().empty());
}

}  // namespace
}  // namespace sluice::net::twilio
