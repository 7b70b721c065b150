#include "core/health.h"

#include <mutex>
#include <utility>

namespace sluice::core {
namespace {
std::mutex mu;
std::vector<std::pair<std::string, std::string>>& reported() {
  static std::vector<std::pair<std::string, std::string>> all;
  return all;
}
}  // namespace

bool report_fault(const std::string& source, const std::string& what) {
  std::lock_guard lock(mu);
  for (const auto& [s, w] : reported())
    if (s == source) return false;
  reported().emplace_back(source, what);
  return true;
}

std::vector<std::string> faults() {
  std::lock_guard lock(mu);
  std::vector<std::string> out;
  for (const auto& [s, w] : reported()) out.push_back(s + ": " + w);
  return out;
}

}  // namespace sluice::core
