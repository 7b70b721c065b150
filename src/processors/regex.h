#pragma once
// An ECMAScript regular expression behind a two-call interface. Why not
// <regex> in the processor itself: std::regex costs about 7 s of compile time
// in each file that uses it; here it is paid once, in regex.cc.
//
// Threads: a compiled Regex is immutable; search() may be called from any
// thread.

#include <expected>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::processors {

class Regex {
 public:
  // The error says what std::regex found wrong with `pattern`.
  static std::expected<Regex, std::string> compile(const std::string& pattern);
  // True when the expression matches somewhere in `text`.
  bool search(std::string_view text) const;

 private:
  struct Compiled;
  explicit Regex(std::shared_ptr<const Compiled> compiled) : compiled_(std::move(compiled)) {}
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace sluice::processors
