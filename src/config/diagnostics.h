#pragma once
// Config errors with a position: `FILE:LINE:COL: error: MESSAGE`.
//
// Loading collects every error it can find (Diagnostics) so `sluice lint`
// reports them all at once; code that builds components after validation
// throws ConfigError for what only it can check (a bad regex, say).

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

struct Position {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
};

struct Diagnostic {
  Position where;
  std::string message;
  std::string to_string() const;
};

class ConfigError : public std::runtime_error {
 public:
  ConfigError(Position where, std::string message);
  const Position& where() const { return where_; }
  const std::string& message() const { return message_; }

 private:
  Position where_;
  std::string message_;
};

// Keeps the first kMaxErrors errors and counts the rest, so a hostile
// config (700,000 unknown keys) costs a few lines, not megabytes.
class Diagnostics {
 public:
  static constexpr size_t kMaxErrors = 50;
  void error(Position where, std::string message);
  bool ok() const { return errors_.empty(); }
  const std::vector<Diagnostic>& errors() const { return errors_; }
  size_t not_kept() const { return not_kept_; }
  size_t count() const { return errors_.size() + not_kept_; }  // kept or not
  std::string to_string() const;  // one line per error, then how many more

 private:
  std::vector<Diagnostic> errors_;
  size_t not_kept_ = 0;
};

}  // namespace sluice::config
