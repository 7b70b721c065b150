// libFuzzer target for `{{path}}` templates: compiling any text, and
// rendering against any message. The input is the template, a NUL byte,
// then the message payload (JSON or not). Promises beside "no crash": a
// template that is one field renders as that field's value, and rendering
// twice gives the same text.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/message.h"
#include "fuzz_check.h"
#include "template/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sluice::fuzz::check;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  const std::string_view text = input.substr(0, split);
  const std::string_view payload = split == std::string_view::npos ? std::string_view() : input.substr(split + 1);

  auto compiled = sluice::tmpl::Template::compile(text);
  if (!compiled) {
    check(!compiled.error().empty(), "a refused template says why");
    return 0;
  }
  sluice::core::Message message{std::string(payload)};
  message.meta().set("key", std::string(payload.substr(0, 16)));
  auto first = compiled->render(message);
  auto second = compiled->render(message);
  check(first.has_value() == second.has_value(), "rendering is deterministic");
  if (!first) return 0;
  check(*first == *second, "rendering is deterministic", *first);
  if (const auto* value = compiled->single_field(message)) {
    std::string expected;
    sluice::tmpl::append_value(*value, expected);
    check(*first == expected, "a one-field template renders as the field's value", *first);
  }
  return 0;
}
