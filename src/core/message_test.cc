#include "core/message.h"

#include <gtest/gtest.h>

namespace sluice::core {
namespace {

TEST(Message, JsonViewIsParsedLazily) {
  Message m(R"({"to":"+1555","n":3})");
  ASSERT_NE(m.json(), nullptr);
  EXPECT_EQ(m.json()->at("to").as_string(), "+1555");
  EXPECT_EQ(m.json(), m.json());  // same object: parsed once
}

TEST(Message, NonJsonPayloadHasNoView) {
  Message m("hello");
  EXPECT_EQ(m.json(), nullptr);
  EXPECT_EQ(m.payload(), "hello");
}

TEST(Message, EditingJsonReserialisesPayload) {
  Message m(R"({"a":1})");
  m.mutable_json().as_object()["b"] = "x";
  EXPECT_EQ(m.payload(), R"({"a":1,"b":"x"})");
  m.set_payload("raw");
  EXPECT_EQ(m.json(), nullptr);
  EXPECT_EQ(m.payload(), "raw");
}

TEST(Message, MutableJsonOnNonJsonStartsEmptyObject) {
  Message m("not json");
  m.mutable_json().as_object()["k"] = 1;
  EXPECT_EQ(m.payload(), R"({"k":1})");
}

TEST(Metadata, SetAndFind) {
  Metadata md;
  md.set("a", "1");
  md.set("a", "2");
  md.set("b", "3");
  ASSERT_NE(md.find("a"), nullptr);
  EXPECT_EQ(*md.find("a"), "2");
  EXPECT_EQ(md.entries().size(), 2u);
  EXPECT_EQ(md.find("c"), nullptr);
}

TEST(Batch, ResolveAllAcksEveryMessage) {
  int delivered = 0;
  Batch b;
  for (int i = 0; i < 3; ++i) {
    Message m("x");
    m.set_ack(AckHandle::make([&](AckStatus s) { delivered += s == AckStatus::delivered; }));
    b.messages.push_back(std::move(m));
  }
  EXPECT_EQ(b.bytes(), 3u);
  b.resolve_all(AckStatus::delivered);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(delivered, 3);
}

TEST(Batch, SplitKeepsOrderInBoundedPieces) {
  Batch b;
  for (int i = 0; i < 7; ++i) b.messages.emplace_back(std::to_string(i));
  auto pieces = Batch(b).split(3);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].size(), 3u);
  EXPECT_EQ(pieces[2].size(), 1u);
  EXPECT_EQ(pieces[1].messages[0].payload(), "3");
  EXPECT_EQ(pieces[2].messages[0].payload(), "6");
  EXPECT_EQ(Batch(b).split(0).size(), 1u);   // 0: no limit
  EXPECT_EQ(Batch(b).split(7).size(), 1u);   // fits
  EXPECT_EQ(Batch(b).split(7)[0].size(), 7u);
}

TEST(Batch, RetainKeepsOrderAndNeverEmptiesKeptMessages) {
  Batch b;
  for (const char* p : {"a", "b", "c", "d"}) b.messages.emplace_back(p);
  b.retain([](Message& m) { return m.payload() != "b"; });
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b.messages[0].payload(), "a");  // kept in place, not self-moved
  EXPECT_EQ(b.messages[1].payload(), "c");
  EXPECT_EQ(b.messages[2].payload(), "d");
}

}  // namespace
}  // namespace sluice::core
