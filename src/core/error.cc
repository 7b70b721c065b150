#include "core/error.h"

namespace sluice::core {
namespace {
class CoreCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sluice"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::end_of_input: return "end of input";
      case Errc::closed: return "closed";
      case Errc::timeout: return "timed out";
      case Errc::invalid_payload: return "invalid payload";
      case Errc::missing_field: return "missing required field";
      case Errc::io_error: return "I/O error";
      case Errc::unavailable: return "unavailable";
      case Errc::storage_full: return "storage full";
    }
    return "unknown error";
  }
};
}  // namespace

const std::error_category& core_category() noexcept {
  static const CoreCategory category;
  return category;
}

std::string Error::to_string() const {
  std::string s = code.message();
  if (!detail.empty()) s += ": " + detail;
  return s;
}

}  // namespace sluice::core
