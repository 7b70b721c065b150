#include "config/diagnostics.h"

#include <fmt/format.h>

namespace sluice::config {

std::string Diagnostic::to_string() const {
  if (where.line == 0) return fmt::format("{}: error: {}", where.file, message);
  return fmt::format("{}:{}:{}: error: {}", where.file, where.line, where.column, message);
}

ConfigError::ConfigError(Position where, std::string message)
    : std::runtime_error(Diagnostic{where, message}.to_string()), where_(std::move(where)), message_(std::move(message)) {}

void Diagnostics::error(Position where, std::string message) {
  errors_.push_back({std::move(where), std::move(message)});
}

std::string Diagnostics::to_string() const {
  std::string out;
  for (const auto& e : errors_) out += e.to_string() + "\n";
  return out;
}

}  // namespace sluice::config
