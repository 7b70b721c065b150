#include "provider_sim/messages.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>

namespace sluice::provider_sim {
namespace {

class MessageBookTest : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove(path_); }
  const std::string path_ = (std::filesystem::temp_directory_path() /
                             ("sim-journal-" + std::to_string(::getpid()) + ".jsonl")).string();
};

SimMessage message(const std::string& sid, const std::string& to, const std::string& body, int64_t created_ms) {
  return {.sid = sid, .to = to, .from = "+15005550006", .body = body, .created_ms = created_ms};
}

std::vector<std::string> sids(const std::string& list_json) {
  std::vector<std::string> out;
  const boost::json::value list = boost::json::parse(list_json);  // named: a temporary would die before the loop
  for (const auto& m : list.at("messages").as_array())
    out.emplace_back(m.at("sid").as_string());
  return out;
}

TEST_F(MessageBookTest, ListsNewestFirstWithTwilioFilters) {
  MessageBook book;
  book.add(message("SM1", "+15551", "a", 1000));
  book.add(message("SM2", "+15552", "b", 2000));
  book.add(message("SM3", "+15551", "c", 3000));
  book.mark_sent("SM1", 86'400'000 + 5);  // 1970-01-02
  EXPECT_EQ(sids(*book.list_json({{"To", "+15551"}}, "AC1")), (std::vector<std::string>{"SM3", "SM1"}));
  EXPECT_EQ(sids(*book.list_json({{"PageSize", "2"}}, "AC1")), (std::vector<std::string>{"SM3", "SM2"}));
  EXPECT_EQ(sids(*book.list_json({{"DateSent", "1970-01-02"}}, "AC1")), std::vector<std::string>{"SM1"});
  EXPECT_EQ(sids(*book.list_json({{"DateSent>", "1970-01-03"}}, "AC1")), std::vector<std::string>{});
  EXPECT_EQ(sids(*book.list_json({{"DateSent<", "1970-01-02"}}, "AC1")), std::vector<std::string>{"SM1"})
      << "unsent messages have no date_sent to match";
  EXPECT_FALSE(book.list_json({{"DateSent", "02/01/1970"}}, "AC1"));
  EXPECT_FALSE(book.list_json({{"PageSize", "1001"}}, "AC1"));
}

TEST_F(MessageBookTest, CountsASecondTextWithTheSameBodyToTheSameNumber) {
  MessageBook book;
  EXPECT_FALSE(book.add(message("SM1", "+15551", "Evacuate", 1)));
  EXPECT_FALSE(book.add(message("SM2", "+15551", "All clear", 2)));
  EXPECT_TRUE(book.add(message("SM3", "+15551", "Evacuate", 3)));
  EXPECT_EQ(book.counts().at("duplicate_texts"), 1);
  EXPECT_EQ(book.find("SM1")->attempt, 1);
  EXPECT_EQ(book.find("SM2")->attempt, 1);
  EXPECT_EQ(book.find("SM3")->attempt, 2) << "the second time this text went to this number";
}

TEST_F(MessageBookTest, TheJournalBringsRecordsBackAfterAKillEvenWithALineCutShort) {
  {
    MessageBook book;
    book.open_journal(path_);
    book.add(message("SM1", "+15551", "a", 1000));
    book.add(message("SM2", "+15552", "b", 2000));
    book.mark_sent("SM1", 1500);
    book.finish("SM1", "undelivered", "30003");
    book.mark_sent("SM2", 2500);
  }
  std::ofstream(path_, std::ios::app) << R"({"op":"final","sid":"SM2","sta)";  // killed mid-write
  MessageBook book;
  const auto replayed = book.open_journal(path_);
  EXPECT_EQ(replayed.messages, 2u);
  EXPECT_EQ(replayed.unreadable_lines, 1u);
  ASSERT_NE(book.find("SM1"), nullptr);
  EXPECT_EQ(book.find("SM1")->status, "undelivered");
  EXPECT_EQ(book.find("SM1")->error_code, "30003");
  const auto unfinished = book.unfinished();
  ASSERT_EQ(unfinished.size(), 1u);
  EXPECT_EQ(unfinished[0].sid, "SM2");
  EXPECT_EQ(unfinished[0].status, "sent");
  EXPECT_EQ(book.counts().at("undelivered"), 1);
  EXPECT_EQ(book.counts().at("sent"), 2);
}

}  // namespace
}  // namespace sluice::provider_sim
