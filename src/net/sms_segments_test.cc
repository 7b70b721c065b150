#include "net/sms_segments.h"

#include <gtest/gtest.h>

namespace sluice::net::sms {
namespace {

TEST(Segments, Gsm7SingleAndMultipart) {
  EXPECT_EQ(count_segments("").count, 1);
  EXPECT_EQ(count_segments(std::string(160, 'a')).count, 1);
  EXPECT_EQ(count_segments(std::string(161, 'a')).count, 2);
  EXPECT_EQ(count_segments(std::string(306, 'a')).count, 2);
  EXPECT_EQ(count_segments(std::string(307, 'a')).count, 3);
  EXPECT_TRUE(count_segments("Hello @ £5 é").gsm7);
}

TEST(Segments, ExtensionCharactersCountTwice) {
  auto s = count_segments(std::string(159, 'a') + "€");
  EXPECT_TRUE(s.gsm7);
  EXPECT_EQ(s.units, 161);
  EXPECT_EQ(s.count, 2);
}

TEST(Segments, Ucs2WhenAnyCharacterIsOutsideGsm) {
  EXPECT_FALSE(count_segments("Grüße 中文").gsm7);
  std::string seventy;
  for (int i = 0; i < 70; ++i) seventy += "中";
  EXPECT_EQ(count_segments(seventy).count, 1);
  EXPECT_EQ(count_segments(seventy + "中").count, 2);
  EXPECT_EQ(count_segments("😀").units, 2);  // a surrogate pair
}

}  // namespace
}  // namespace sluice::net::sms
