// RESP: commands as Redis reads them, replies decoded in pieces, and every
// malformed, oversized or hostile reply a clear error.
#include "redis/resp.h"

#include <gtest/gtest.h>

namespace sluice::redis {
namespace {

TEST(Resp, CommandsAreArraysOfBulkStrings) {
  std::string out;
  append_command(out, {"LPUSH", "queue:default", "{\"a\":\"b\\r\\n\"}"});
  EXPECT_EQ(out, "*3\r\n$5\r\nLPUSH\r\n$13\r\nqueue:default\r\n$13\r\n{\"a\":\"b\\r\\n\"}\r\n");
  out.clear();
  append_command(out, {"SET", "k", ""});
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

TEST(Resp, EveryReplyTypeDecodes) {
  Decoder d;
  d.feed("+OK\r\n-ERR wrong\r\n:-42\r\n$5\r\nhe\r\no\r\n$-1\r\n*-1\r\n_\r\n*2\r\n*1\r\n:1\r\n$0\r\n\r\n*0\r\n");
  auto next = [&] {
    auto r = d.next();
    EXPECT_TRUE(r) << r.error().to_string();
    EXPECT_TRUE(*r);
    return **r;
  };
  EXPECT_EQ(next().text, "OK");
  auto e = next();
  EXPECT_TRUE(e.is_error());
  EXPECT_EQ(e.text, "ERR wrong");
  EXPECT_EQ(next().integer, -42);
  EXPECT_EQ(next().text, "he\r\no");  // a bulk string may hold CRLF
  EXPECT_TRUE(next().is_null());
  EXPECT_TRUE(next().is_null());
  EXPECT_TRUE(next().is_null());
  auto nested = next();
  ASSERT_EQ(nested.elements.size(), 2u);
  EXPECT_EQ(nested.elements[0].elements[0].integer, 1);
  EXPECT_EQ(nested.elements[1].text, "");
  EXPECT_EQ(next().elements.size(), 0u);
  auto none = d.next();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(Resp, RepliesSplitAnywhereComeOutWhole) {
  const std::string stream = "*3\r\n$3\r\nfoo\r\n:7\r\n*2\r\n+a\r\n$-1\r\n+PONG\r\n";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    Decoder d;
    d.feed(stream.substr(0, cut));
    std::vector<Reply> got;
    for (;;) {
      auto r = d.next();
      ASSERT_TRUE(r) << cut;
      if (!*r) break;
      got.push_back(**r);
    }
    d.feed(stream.substr(cut));
    for (;;) {
      auto r = d.next();
      ASSERT_TRUE(r) << cut;
      if (!*r) break;
      got.push_back(**r);
    }
    ASSERT_EQ(got.size(), 2u) << cut;
    EXPECT_EQ(got[0].elements[2].elements[0].text, "a");
    EXPECT_EQ(got[1].text, "PONG");
  }
}

TEST(Resp, MalformedOversizedAndHostileRepliesAreErrors) {
  DecoderLimits small{.max_bulk = 1024, .max_elements = 100, .max_depth = 4};
  for (std::string bad : {std::string("?what\r\n"), std::string("$abc\r\n"), std::string("$-2\r\n"),
                          std::string("$5\r\nhelloXX"), std::string(":12x\r\n"), std::string(":\r\n"),
                          std::string("$2000\r\n"), std::string("*101\r\n"), std::string("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"),
                          std::string("+a\rb\r\n"), std::string("_x\r\n"), std::string("%1\r\n"),
                          std::string("+") + std::string(70000, 'x'), std::string("*99999999999999999999\r\n")}) {
    Decoder d(small);
    d.feed(bad);
    auto r = d.next();
    ASSERT_FALSE(r) << bad.substr(0, 40);
    EXPECT_TRUE(r.error().is(core::Errc::invalid_payload));
    EXPECT_FALSE(d.next()) << "a failed decoder stays failed";
  }
  // A large count with few bytes behind it waits, without reserving for it.
  Decoder d(DecoderLimits{.max_elements = 1 << 20});
  d.feed("*1000000\r\n:1\r\n");
  auto r = d.next();
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
}

}  // namespace
}  // namespace sluice::redis
