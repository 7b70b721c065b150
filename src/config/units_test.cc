#include "config/units.h"
#include "config/diagnostics.h"

#include <gtest/gtest.h>

#include <map>

namespace sluice::config {
namespace {

using namespace std::chrono_literals;

TEST(Units, Durations) {
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("5m"), 300s);
  EXPECT_EQ(parse_duration("2h"), 7200s);
  EXPECT_EQ(parse_duration("0s"), 0s);
  EXPECT_FALSE(parse_duration("5"));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration("soon"));
  EXPECT_EQ(parse_duration("876000h"), kMaxDuration);
  EXPECT_FALSE(parse_duration("876001h")) << "past 100 years";
  EXPECT_FALSE(parse_duration("1e10h")) << "would overflow to a negative duration";
  EXPECT_FALSE(parse_size("1e30GB"));
}

TEST(Units, Sizes) {
  EXPECT_EQ(parse_size("1024"), 1024u);
  EXPECT_EQ(parse_size("64KiB"), 65536u);
  EXPECT_EQ(parse_size("1MB"), 1000000u);
  EXPECT_FALSE(parse_size("1 parsec"));
}

TEST(Units, Rates) {
  EXPECT_EQ(parse_rate_per_second("100/s"), 100.0);
  EXPECT_EQ(parse_rate_per_second("120/min"), 2.0);
  EXPECT_EQ(parse_rate_per_second("3600/h"), 1.0);
  EXPECT_FALSE(parse_rate_per_second("0/s"));
  EXPECT_FALSE(parse_rate_per_second("100"));
  EXPECT_FALSE(parse_rate_per_second("100/fortnight"));
  EXPECT_EQ(parse_rate_per_second("1/d"), kMinRatePerSecond);
  EXPECT_EQ(parse_rate_per_second("24/day"), 24.0 / 86400);
  EXPECT_FALSE(parse_rate_per_second("1e-6/s")) << "less than one a day";
  EXPECT_FALSE(parse_rate_per_second("1e-10/s"));
  EXPECT_FALSE(parse_rate_per_second("0.01/h"));
}

TEST(Units, EnvInterpolation) {
  std::map<std::string, std::string> env = {{"A", "x"}, {"EMPTY", ""}};
  EnvLookup lookup = [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_EQ(interpolate_env("a=${A}", lookup).value(), "a=x");
  EXPECT_EQ(interpolate_env("${B:-def}", lookup).value(), "def");
  EXPECT_EQ(interpolate_env("${EMPTY:-def}", lookup).value(), "def");
  EXPECT_EQ(interpolate_env("${EMPTY}", lookup).value(), "");
  EXPECT_EQ(interpolate_env("$${A} costs $5", lookup).value(), "${A} costs $5");
  EXPECT_EQ(interpolate_env("${B}", lookup).error(), "environment variable 'B' is not set and has no default");
  EXPECT_EQ(interpolate_env("${A", lookup).error(), "unclosed '${'");
  EXPECT_EQ(interpolate_env("${A B}", lookup).error(), "bad environment variable name 'A B'");
}

TEST(Diagnostics, AFloodOfErrorsIsCutToTheFirstHundredAndACount) {
  Diagnostics d;
  for (int i = 0; i < 700'000; ++i) d.error({"big.yaml", i + 1, 1}, "unknown field 'k" + std::to_string(i) + "'");
  EXPECT_EQ(d.errors().size(), Diagnostics::kMaxErrors);
  EXPECT_EQ(d.not_kept(), 700'000 - Diagnostics::kMaxErrors);
  const std::string text = d.to_string();
  EXPECT_LT(text.size(), 10'000u);
  EXPECT_TRUE(text.ends_with("big.yaml: error: and 699950 more error(s) not shown; fix these first\n")) << text.substr(text.size() - 200);
  EXPECT_FALSE(d.ok());
}

}  // namespace
}  // namespace sluice::config
