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
  auto r = recipients_from_list({"+15551230001", "not a number"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("recipients[1] 'not a number'"), std::string::npos) << r.error();
  EXPECT_FALSE(recipients_from_list({}));
  EXPECT_FALSE(recipients_from_csv("phone\n"));
}

}  // namespace
}  // namespace sluice::alerts
