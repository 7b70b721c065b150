// The codec without a broker: frames, tables and properties round-trip, and
// hostile bytes (truncated, oversized, out of place) are errors, not crashes.
#include <gtest/gtest.h>

#include "amqp/protocol.h"
#include "amqp/wire.h"

namespace sluice::amqp {
namespace {

TEST(AmqpWire, TablesAndPropertiesRoundTrip) {
  Properties p;
  p.content_type = "application/json";
  p.delivery_mode = 2;
  p.message_id = "m-1";
  p.timestamp = 1700000000;
  p.headers = {{"x-delivery-count", Field::of(int64_t{3})},
               {"flag", Field::of(true)},
               {"nested", Field{.kind = Field::Kind::table, .table = {{"a", Field::of(std::string("b\"c"))}}}},
               {"list", Field{.kind = Field::Kind::array, .array = {Field::of(int64_t{1}), Field::of(std::string("two"))}}}};
  std::string bytes;
  Encoder(bytes).properties(p);
  Decoder d(bytes);
  Properties q = d.properties();
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d.remaining(), 0u);
  EXPECT_EQ(q.content_type, p.content_type);
  EXPECT_EQ(q.delivery_mode, 2);
  EXPECT_EQ(q.message_id, "m-1");
  EXPECT_EQ(q.timestamp, 1700000000u);
  EXPECT_FALSE(q.reply_to);
  ASSERT_EQ(q.headers.size(), 4u);
  EXPECT_EQ(find(q.headers, "x-delivery-count")->integer, 3);
  EXPECT_EQ(find(q.headers, "flag")->to_text(), "true");
  EXPECT_EQ(find(q.headers, "nested")->to_text(), R"({"a":"b\"c"})");
  EXPECT_EQ(find(q.headers, "list")->to_text(), R"([1,"two"])");
}

TEST(AmqpWire, RabbitMqIntegerTypesAllReadAsIntegers) {
  // 'b' -1, 'u' 65535, 'I' -2, 'i' 4294967295, 's' -3 as RabbitMQ writes them.
  std::string t;
  Encoder e(t);
  std::string inner;
  Encoder ie(inner);
  ie.shortstr("b").u8('b').u8(0xff);
  ie.shortstr("u").u8('u').u16(0xffff);
  ie.shortstr("I").u8('I').u32(0xfffffffe);
  ie.shortstr("i").u8('i').u32(0xffffffff);
  ie.shortstr("s").u8('s').u16(0xfffd);
  ie.shortstr("D").u8('D').u8(2).u32(314);
  e.longstr(inner);
  Decoder d(t);
  Table got = d.table();
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(find(got, "b")->integer, -1);
  EXPECT_EQ(find(got, "u")->integer, 65535);
  EXPECT_EQ(find(got, "I")->integer, -2);
  EXPECT_EQ(find(got, "i")->integer, 4294967295);
  EXPECT_EQ(find(got, "s")->integer, -3);
  EXPECT_DOUBLE_EQ(find(got, "D")->floating, 3.14);
}

TEST(AmqpWire, HostileTablesFailCleanly) {
  std::string deep;  // 100 tables within tables
  for (int i = 0; i < 100; ++i) deep = [&] {
      std::string t, entry;
      Encoder(entry).shortstr("k").u8('F');
      entry += deep.empty() ? std::string(4, '\0') : deep;
      Encoder(t).longstr(entry);
      return t;
    }();
  Decoder d(deep);
  d.table();
  EXPECT_FALSE(d.ok());
  EXPECT_NE(d.error().find("nested deeper"), std::string::npos) << d.error();

  std::string lying;  // a table that says it is 1 MB long
  Encoder(lying).u32(1 << 20).shortstr("k");
  Decoder l(lying);
  l.table();
  EXPECT_FALSE(l.ok());
  EXPECT_NE(l.error().find("truncated"), std::string::npos) << l.error();

  std::string unknown;
  std::string entry;
  Encoder(entry).shortstr("k").u8('Z');
  Encoder(unknown).longstr(entry);
  Decoder u(unknown);
  u.table();
  EXPECT_NE(u.error().find("unknown field type 0x5a"), std::string::npos) << u.error();
}

TEST(AmqpWire, FramesCutAnywhereDecodeTheSame) {
  std::string stream;
  append_frame(stream, FrameType::method, 1, method_payload(m::basic_ack, [](Encoder& e) { e.u64(7).bits({true}); }));
  append_frame(stream, FrameType::heartbeat, 0, {});
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameDecoder fd;
    fd.feed(std::string_view(stream).substr(0, cut));
    std::vector<Frame> got;
    for (;;) {
      auto f = fd.next();
      ASSERT_TRUE(f);
      if (!*f) break;
      got.push_back(**f);
    }
    fd.feed(std::string_view(stream).substr(cut));
    for (;;) {
      auto f = fd.next();
      ASSERT_TRUE(f);
      if (!*f) break;
      got.push_back(**f);
    }
    ASSERT_EQ(got.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(got[0].channel, 1);
    EXPECT_EQ(got[1].type, FrameType::heartbeat);
  }
}

TEST(AmqpWire, BadFramesEndTheStream) {
  FrameDecoder oversized(4096);
  std::string big;
  append_frame(big, FrameType::body, 1, std::string(5000, 'x'));
  oversized.feed(big.substr(0, 7));  // the size alone is enough to refuse it
  auto r = oversized.next();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("exceeds frame_max 4096"), std::string::npos) << r.error().detail;

  FrameDecoder no_end;
  std::string f;
  append_frame(f, FrameType::heartbeat, 0, {});
  f.back() = 'x';
  no_end.feed(f);
  EXPECT_NE(no_end.next().error().detail.find("does not end in 0xCE"), std::string::npos);

  FrameDecoder version;
  version.feed(std::string("AMQP\0\0\x09\x01", 8));
  EXPECT_NE(version.next().error().detail.find("does not speak AMQP 0-9-1"), std::string::npos);
}

Frame method_frame(uint16_t ch, uint32_t id, const std::function<void(Encoder&)>& args = [](Encoder&) {}) {
  return {.type = FrameType::method, .channel = ch, .payload = method_payload(id, args)};
}
Frame header_frame(uint16_t ch, uint64_t size) {
  std::string h;
  Encoder(h).u16(60).u16(0).u64(size).properties({});
  return {.type = FrameType::header, .channel = ch, .payload = h};
}

TEST(AmqpAssembler, ContentIsMethodHeaderAndBodies) {
  Assembler a;
  auto deliver = [](Encoder& e) { e.shortstr("ctag").u64(9).u8(1).shortstr("ex").shortstr("rk"); };
  EXPECT_FALSE(*a.feed(method_frame(3, m::basic_deliver, deliver)));
  EXPECT_FALSE(*a.feed(header_frame(3, 5)));
  EXPECT_FALSE(*a.feed({.type = FrameType::body, .channel = 3, .payload = "he"}));
  auto done = a.feed({.type = FrameType::body, .channel = 3, .payload = "llo"});
  ASSERT_TRUE(done && *done);
  auto& c = std::get<Content>(**done);
  EXPECT_EQ(c.body, "hello");
  EXPECT_EQ(c.id, m::basic_deliver);

  // An empty body completes with its header.
  EXPECT_FALSE(*a.feed(method_frame(3, m::basic_deliver, deliver)));
  auto empty = a.feed(header_frame(3, 0));
  ASSERT_TRUE(empty && *empty);
  EXPECT_EQ(std::get<Content>(**empty).body, "");
}

TEST(AmqpAssembler, FramesOutOfPlaceAreRefused) {
  auto deliver = [](Encoder& e) { e.shortstr("").u64(1).u8(0).shortstr("").shortstr(""); };
  {
    Assembler a;
    auto r = a.feed(header_frame(1, 3));
    EXPECT_NE(r.error().detail.find("no method before it"), std::string::npos);
  }
  {
    Assembler a;
    ASSERT_TRUE(a.feed(method_frame(1, m::basic_deliver, deliver)));
    auto r = a.feed(method_frame(1, m::basic_ack));
    EXPECT_NE(r.error().detail.find("a method inside a content"), std::string::npos);
  }
  {
    Assembler a;
    ASSERT_TRUE(a.feed(method_frame(1, m::basic_deliver, deliver)));
    ASSERT_TRUE(a.feed(header_frame(1, 2)));
    auto r = a.feed({.type = FrameType::body, .channel = 1, .payload = "toolong"});
    EXPECT_NE(r.error().detail.find("longer than the 2 bytes"), std::string::npos);
  }
  {
    Assembler a(1000);
    ASSERT_TRUE(a.feed(method_frame(1, m::basic_deliver, deliver)));
    auto r = a.feed(header_frame(1, 1001));
    EXPECT_NE(r.error().detail.find("exceeds the 1000 byte bound"), std::string::npos);
  }
  {
    Assembler a;
    auto r = a.feed({.type = FrameType::method, .channel = 0, .payload = "\x0a"});
    EXPECT_NE(r.error().detail.find("too short"), std::string::npos);
  }
}

}  // namespace
}  // namespace sluice::amqp
