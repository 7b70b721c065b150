#include "aws/credentials.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace sluice::aws {
namespace {

namespace fs = std::filesystem;

class Credentials : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("sluice-aws-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / ".aws");
    env_["HOME"] = dir_.string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / ".aws" / name) << text; }
  Getenv env() {
    return [this](const std::string& k) -> std::optional<std::string> {
      auto it = env_.find(k);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }
  fs::path dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(Credentials, TheConfigComesFirstThenTheEnvironment) {
  env_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  env_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  env_["AWS_SESSION_TOKEN"] = "envtoken";
  auto r = resolve_credentials({"CFGKEY", "cfgsecret", "", ""}, env());
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->credentials.access_key_id, "CFGKEY");
  EXPECT_EQ(r->from, "config");
  r = resolve_credentials({}, env());
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->credentials.session_token, "envtoken");
  EXPECT_EQ(r->from, "environment");
}

TEST_F(Credentials, SharedFilesByProfile) {
  write("credentials", "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n"
                       "[ops]\n  aws_access_key_id=OPS \naws_secret_access_key=opssecret\r\n");
  write("config", "[profile cfgonly]\naws_access_key_id = CFGFILE\naws_secret_access_key = s\nregion = eu-west-1\n");
  auto r = resolve_credentials({}, env());
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->credentials.access_key_id, "DEF");
  env_["AWS_PROFILE"] = "ops";
  r = resolve_credentials({}, env());
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->credentials.access_key_id, "OPS");
  EXPECT_EQ(r->credentials.secret_access_key, "opssecret");
  r = resolve_credentials({.profile = "cfgonly"}, env());
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->credentials.access_key_id, "CFGFILE");
  EXPECT_EQ(r->from, (dir_ / ".aws/config").string() + " [profile cfgonly]");
}

TEST_F(Credentials, HalfAPairOrNothingIsAClearErrorWithoutSecrets) {
  env_["AWS_SECRET_ACCESS_KEY"] = "do-not-print-me";
  auto r = resolve_credentials({}, env());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("AWS_ACCESS_KEY_ID"), std::string::npos) << r.error().detail;
  EXPECT_EQ(r.error().detail.find("do-not-print-me"), std::string::npos) << r.error().detail;
  env_.erase("AWS_SECRET_ACCESS_KEY");
  r = resolve_credentials({.profile = "missing"}, env());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("[missing]"), std::string::npos) << r.error().detail;
  EXPECT_NE(r.error().detail.find("[profile missing]"), std::string::npos) << r.error().detail;
}

}  // namespace
}  // namespace sluice::aws
