#include "core/message.h"
#include "template/template.h"

#include <gtest/gtest.h>

namespace sluice::tmpl {
namespace {

core::Message msg(std::string body) { return core::Message(std::move(body)); }

std::string render(std::string_view t, const core::Message& m) {
  auto compiled = Template::compile(t);
  EXPECT_TRUE(compiled.has_value()) << compiled.error();
  auto r = compiled->render(m);
  EXPECT_TRUE(r.has_value()) << r.error().to_string();
  return r.value_or("<error>");
}

TEST(Template, LiteralOnly) { EXPECT_EQ(render("hello", msg("{}")), "hello"); }

TEST(Template, FieldsNestedAndIndexed) {
  auto m = msg(R"({"to":"+1555","user":{"name":"Ana","phones":["a","b"]},"n":3,"ok":true,"o":{"x":1}})");
  EXPECT_EQ(render("to {{to}}!", m), "to +1555!");
  EXPECT_EQ(render("{{ user.name }}", m), "Ana");
  EXPECT_EQ(render("{{user.phones.1}}", m), "b");
  EXPECT_EQ(render("{{n}}/{{ok}}/{{o}}", m), R"(3/true/{"x":1})");
}

TEST(Template, MissingFieldRendersEmpty) {
  EXPECT_EQ(render("[{{nope}}][{{user.phones.9}}]", msg(R"({"user":{"phones":[]}})")), "[][]");
  EXPECT_EQ(render("[{{x}}]", msg("not json")), "[]");
}

TEST(Template, RequiredFieldErrors) {
  auto t = Template::compile("{{to | required}}");
  ASSERT_TRUE(t);
  auto r = t->render(msg("{}"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(core::Errc::missing_field));
  EXPECT_EQ(r.error().detail, "to");
  EXPECT_EQ(t->render(msg(R"({"to":"x"})")).value(), "x");
}

TEST(Template, Metadata) {
  auto m = msg("{}");
  m.meta().set("sid", "SM1");
  EXPECT_EQ(render("{{meta.sid}}-{{meta.none}}", m), "SM1-");
  auto t = Template::compile("{{meta.none|required}}");
  EXPECT_FALSE(t->render(m));
}

TEST(Template, SingleFieldKeepsJsonType) {
  auto t = Template::compile("{{n}}");
  auto m = msg(R"({"n":42})");
  ASSERT_TRUE(t->is_single_field());
  ASSERT_NE(t->single_field(m), nullptr);
  EXPECT_TRUE(t->single_field(m)->is_int64());
  EXPECT_FALSE(Template::compile("x{{n}}")->is_single_field());
}

TEST(Template, CompileErrorsSayWhere) {
  EXPECT_EQ(Template::compile("ab{{x").error(), "unclosed '{{' at character 3");
  EXPECT_EQ(Template::compile("{{}}").error(), "bad field reference '{{}}' at character 1");
  EXPECT_EQ(Template::compile("{{a..b}}").error(), "bad field reference '{{a..b}}' at character 1");
  EXPECT_EQ(Template::compile("{{a | upper}}").error(),
            "unknown filter 'upper' at character 1 (only 'required' exists)");
}

struct Counter : Functions {
  int n = 0;
  int find(std::string_view name) const override { return name == "seq" ? 0 : -1; }
  void call(int, std::string& out) override { out += std::to_string(++n); }
};

TEST(Template, Functions) {
  Counter c;
  auto t = Template::compile(R"({"n":{{seq}},"to":"{{to}}"})", &c);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->render(msg(R"({"to":"a"})"), &c).value(), R"({"n":1,"to":"a"})");
  EXPECT_EQ(t->render(msg("{}"), &c).value(), R"({"n":2,"to":""})");
}

}  // namespace
}  // namespace sluice::tmpl
