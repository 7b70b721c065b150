#pragma once
// Error values for hot paths: std::expected<T, Error>, whose code is the one
// shared sluice::core::Errc (a std::error_code, so a module can bring its own
// category if it ever needs codes that callers must tell apart). Exceptions
// are reserved for config loading and topology construction.

#include <expected>
#include <string>
#include <system_error>
#include <utility>

namespace sluice::core {
enum class Errc;
}
template <>
struct std::is_error_code_enum<sluice::core::Errc> : std::true_type {};

namespace sluice::core {

enum class Errc {
  // 0 is "no error" for std::error_code, so the codes start at 1.
  end_of_input = 1,  // a finite input has nothing more to read
  closed,           // the component was shut down
  timeout,
  invalid_payload,  // a message is not what the component needs (e.g. not JSON)
  missing_field,    // a required template field is absent
  io_error,
  unavailable,      // a peer cannot be reached right now; retryable
  storage_full,     // the disk (or the store's quota) is full; retry once space returns
};

const std::error_category& core_category() noexcept;
inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), core_category()};
}

struct Error {
  std::error_code code;
  std::string detail;  // human-readable context; never contains secrets

  Error() = default;
  Error(std::error_code c, std::string d = {}) : code(c), detail(std::move(d)) {}
  template <class E>
    requires std::is_error_code_enum_v<E>
  Error(E e, std::string d = {}) : code(make_error_code(e)), detail(std::move(d)) {}

  bool is(Errc e) const { return code == make_error_code(e); }
  std::string to_string() const;
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(Errc e, std::string detail = {}) {
  return std::unexpected<Error>(Error(e, std::move(detail)));
}

}  // namespace sluice::core
