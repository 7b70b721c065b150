#include "processors/regex.h"

#include <regex>

namespace sluice::processors {

struct Regex::Compiled {
  std::regex expression;
};

std::expected<Regex, std::string> Regex::compile(const std::string& pattern) {
  try {
    return Regex(std::make_shared<const Compiled>(
        Compiled{std::regex(pattern, std::regex::ECMAScript | std::regex::optimize)}));
  } catch (const std::regex_error& e) {
    return std::unexpected(std::string(e.what()));
  }
}

bool Regex::search(std::string_view text) const {
  return std::regex_search(text.begin(), text.end(), compiled_->expression);
}

}  // namespace sluice::processors
