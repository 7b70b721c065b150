#include "core/utf8.h"

#include <gtest/gtest.h>

namespace sluice::core {
namespace {

TEST(Utf8, CountsCharactersAndCutsBetweenThem) {
  EXPECT_EQ(utf8_length("abc"), 3u);
  EXPECT_EQ(utf8_length("caf\xc3\xa9"), 4u);        // café
  EXPECT_EQ(utf8_length("\xf0\x9f\x9a\x92"), 1u);   // one emoji, four bytes
  EXPECT_EQ(clip("caf\xc3\xa9", 4), "caf") << "never half of the é";
  EXPECT_EQ(clip("caf\xc3\xa9", 5), "caf\xc3\xa9");
  EXPECT_EQ(clip("\xf0\x9f\x9a\x92!", 3), "");
  EXPECT_EQ(clip("short", 64), "short");
}

}  // namespace
}  // namespace sluice::core
