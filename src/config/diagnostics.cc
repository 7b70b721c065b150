#include "config/diagnostics.h"

#include <fmt/format.h>

#include "core/utf8.h"

namespace sluice::config {

std::string Diagnostic::to_string() const {
  if (where.line == 0) return fmt::format("{}: error: {}", where.file, message);
  return fmt::format("{}:{}:{}: error: {}", where.file, where.line, where.column, message);
}

ConfigError::ConfigError(Position where, std::string message)
    : std::runtime_error(Diagnostic{where, message}.to_string()), where_(std::move(where)), message_(std::move(message)) {}

void Diagnostics::error(Position where, std::string message) {
  // Messages quote the input, which may be hostile: no control characters
  // or broken UTF-8 reach a terminal.
  if (errors_.size() >= kMaxErrors) {
    ++not_kept_;
    return;
  }
  errors_.push_back({std::move(where), core::printable(message)});
}

std::string Diagnostics::to_string() const {
  std::string out;
  for (const auto& e : errors_) out += e.to_string() + "\n";
  if (not_kept_ > 0)
    out += fmt::format("{}: error: and {} more error(s) not shown; fix these first\n", errors_.back().where.file,
                       not_kept_);
  return out;
}

}  // namespace sluice::config
