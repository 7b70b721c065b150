#include "alerts/recipients.h"

#include <gtest/gtest.h>

namespace sluice::alerts {
namespace {

TEST(Recipients, CsvTakesTheFirstColumnSkipsTheHeaderAndDropsDuplicates) {
  auto r = recipients_from_csv("phone,name\n+15551230001, Ann\n\"+15551230002\",Bob\r\n\n+15551230001,Ann again\n");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->numbers, (std::vector<std::string>{"+15551230001", "+15551230002"}));
  EXPECT_EQ(r->duplicates, 1u);
}

TEST(Recipients, BadNumbersAreNamedByRow) {
  auto r = recipients_from_csv("+15551230001\n5551230002\n+1555\n+1555123000x\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(),
            "3 recipient(s) are not E.164 numbers (+ and 7-15 digits): row 2 '5551230002', row 3 '+1555', "
            "row 4 '+1555123000x'");
}

TEST(Recipients, ListEntriesAreNamedByIndex) {
  const std::vector<std::string_view> list{"+15551230001", "not a number"};
  auto r = recipients_from_list(list);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("recipients[1] 'not a number'"), std::string::npos) << r.error();
  EXPECT_FALSE(recipients_from_list(std::vector<std::string_view>{}));
  EXPECT_FALSE(recipients_from_csv("phone\n"));
}

TEST(Recipients, SkipInvalidKeepsTheGoodRowsAndListsTheBadOnesByLine) {
  auto r = recipients_from_csv("phone\n+15551230001\n5551230002\n+15551230003\n+1555\n", OnInvalid::skip);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->numbers, (std::vector<std::string>{"+15551230001", "+15551230003"}));
  EXPECT_EQ(r->refused, 2u);
  ASSERT_EQ(r->refused_list.size(), 2u);
  EXPECT_EQ(r->refused_list[0].where, "row 3");
  EXPECT_EQ(r->refused_list[0].value, "5551230002");
  EXPECT_EQ(r->refused_list[1].where, "row 5");
  // Nothing good at all is still an error, naming the bad rows.
  auto none = recipients_from_csv("5551230002\n", OnInvalid::skip);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("row 1 '5551230002'"), std::string::npos) << none.error();
}

TEST(Recipients, ARefusedValueIsShownPrintableAndClipped) {
  using namespace std::string_literals;  // the NUL stays in the text
  auto r = recipients_from_csv("+15551230001\n\xff\x00+1\n"s + std::string(100, '9') + "\n", OnInvalid::skip);
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->refused_list.size(), 2u);
  EXPECT_EQ(r->refused_list[0].value, "\\xFF\\x00+1");
  EXPECT_EQ(r->refused_list[1].value, std::string(40, '9'));
}

TEST(Recipients, PastTheLimitNothingMoreIsKeptAndTheAlertIsOverIt) {
  auto r = recipients_from_csv("+15551230001\n+15551230001\n+15551230002\n+15551230003\n", OnInvalid::refuse_alert, 2);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->over_limit);
  EXPECT_EQ(r->numbers.size(), 2u);
  EXPECT_EQ(r->duplicates, 1u) << "a duplicate is not over the limit";
  auto exact = recipients_from_csv("+15551230001\n+15551230002\n+15551230001\n", OnInvalid::refuse_alert, 2);
  ASSERT_TRUE(exact);
  EXPECT_FALSE(exact->over_limit);
  // A body of empty lines reserves nothing like a number per line.
  auto empty = recipients_from_csv(std::string(10'000'000, '\n') + "+15551230001\n", OnInvalid::refuse_alert, 5);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->numbers.size(), 1u);
}

TEST(Recipients, OnlyTheFirstThousandRefusalsAreListedButAllAreCounted) {
  std::string csv;
  for (int i = 0; i < 1500; ++i) csv += "5551230002\n";
  csv += "+15551230001\n";
  auto r = recipients_from_csv(csv, OnInvalid::skip);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->refused, 1500u);
  EXPECT_EQ(r->refused_list.size(), kListedRefusals);
  EXPECT_EQ(r->numbers.size(), 1u);
}

}  // namespace
}  // namespace sluice::alerts

namespace sluice::alerts {
namespace {

TEST(Sender, TwilioTakesANumberAnAlphanumericIdOrAMessagingService) {
  for (const char* ok : {"+15005550006", "CityAlerts", "Fire Dept", "A1", "MG0123456789abcdef0123456789ABCDEF"})
    EXPECT_TRUE(valid_sender(ok)) << ok;
  for (const char* bad : {"", "15005550006", "+0123", "123456", "TooLongSender", " Lead", "Trail ", "Café", "a\nb",
                          "MG0123456789abcdef0123456789ABCDEG", "<script>"})
    EXPECT_FALSE(valid_sender(bad)) << bad;
}

}  // namespace
}  // namespace sluice::alerts
