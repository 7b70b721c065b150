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

TEST(Utf8, PrintableEscapesControlCharactersAndBrokenUtf8) {
  EXPECT_EQ(printable("ok caf\xc3\xa9 \xf0\x9f\x9a\x92"), "ok caf\xc3\xa9 \xf0\x9f\x9a\x92");  // valid UTF-8 stays
  EXPECT_EQ(printable("bad \xff\x1b[31m"), "bad \\xff\\x1b[31m");
  // Found by tests/fuzz: lead bytes past F4, overlong forms and surrogates
  // passed as if they were characters.
  EXPECT_EQ(printable("\xff\x85\x85"), "\\xff\\x85\\x85");
  EXPECT_EQ(printable("\xe0\x80\x80"), "\\xe0\\x80\\x80");
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
}

}  // namespace
}  // namespace sluice::core
