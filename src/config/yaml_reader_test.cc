#include "config/yaml_reader.h"
#include "core/closest.h"

#include <gtest/gtest.h>

#include "config/docs.h"

namespace sluice::config {
namespace {

const std::vector<Field> kFields = {
    {.name = "auth_token", .doc = "API token.", .default_value = "a-token", .secret = true,
     .choices = {"a-token", "b-token"}},
    {.name = "pin", .type = Type::integer, .doc = "A secret number.", .secret = true, .min = 1000, .max = 9999},
};

std::string read_errors(const std::string& yaml) {
  Diagnostics diag;
  YamlReader r("s.yaml", [](const std::string&) { return std::optional<std::string>("hunter2"); }, diag);
  r.read(YAML::Load(yaml), kFields, "test block");
  return diag.to_string();
}

TEST(Secrets, ErrorsNeverEchoASecretValue) {
  EXPECT_EQ(read_errors("{pin: hunter2}"), "s.yaml:1:7: error: field 'pin' must be an integer\n");
  EXPECT_EQ(read_errors("{pin: \"${X}\"}"), "s.yaml:1:7: error: field 'pin' must be an integer\n");
  EXPECT_EQ(read_errors("{pin: 12}"), "s.yaml:1:7: error: field 'pin' must be >= 1000\n");
  EXPECT_EQ(read_errors("{auth_token: hunter2}"),
            "s.yaml:1:14: error: field 'auth_token' must be one of: a-token, b-token\n");
}

TEST(Secrets, DocsHideSecretDefaults) {
  Registry reg;
  reg.add({.name = "svc", .kind = Kind::output, .summary = "s", .fields = kFields});
  auto text = render_docs(reg, "svc");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->find("a-token'"), std::string::npos) << *text;
  EXPECT_NE(text->find("(secret)"), std::string::npos);
}

TEST(YamlReader, ClosestSuggestsWithinTwoEdits) {
  EXPECT_EQ(core::closest("cuont", {"count", "rate"}), "count");
  EXPECT_EQ(core::closest("zzzzzz", {"count", "rate"}), std::nullopt);
}

TEST(YamlReader, TemplateListsKeepOrderAndSayWhichItemIsWrong) {
  const std::vector<Field> fields = {{.name = "args", .type = Type::tmpl_list, .doc = "Arguments."}};
  auto read = [&](const std::string& yaml, Diagnostics& diag) {
    YamlReader r("s.yaml", [](const std::string&) { return std::nullopt; }, diag);
    return r.read(YAML::Load(yaml), fields, "test block");
  };
  Diagnostics ok;
  auto v = read("{args: [\"{{to}}\", \"at {{meta.t}}\"]}", ok);
  EXPECT_EQ(ok.to_string(), "");
  ASSERT_EQ(v.tmpl_list("args").size(), 2u);
  EXPECT_EQ(v.tmpl_list("args")[1].source(), "at {{meta.t}}");
  Diagnostics bad;
  read("{args: [\"{{to}}\", \"{{oops\"]}", bad);
  EXPECT_EQ(bad.to_string(), "s.yaml:1:19: error: field 'args[1]': unclosed '{{' at character 1\n");
  Diagnostics scalar;
  read("{args: \"{{to}}\"}", scalar);
  EXPECT_EQ(scalar.to_string(), "s.yaml:1:8: error: field 'args' must be a list of templates, got a scalar\n");
}

}  // namespace
}  // namespace sluice::config
