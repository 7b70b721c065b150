#pragma once
// The set of component types and feature sections sluice knows. Built explicitly in one place
// (src/components/component_list.cc); nothing registers itself.

#include <string_view>
#include <vector>

#include "config/spec.h"

namespace sluice::config {

class Registry {
 public:
  void add(ComponentSpec spec) { specs_.push_back(std::move(spec)); }
  const ComponentSpec* find(Kind kind, std::string_view name) const {
    for (const auto& s : specs_)
      if (s.kind == kind && s.name == name) return &s;
    return nullptr;
  }
  std::vector<std::string> names(Kind kind) const {
    std::vector<std::string> out;
    for (const auto& s : specs_)
      if (s.kind == kind) out.push_back(s.name);
    return out;
  }
  const std::vector<ComponentSpec>& all() const { return specs_; }

  void add_section(SectionSpec spec) { sections_.push_back(std::move(spec)); }
  const std::vector<SectionSpec>& sections() const { return sections_; }

 private:
  std::vector<ComponentSpec> specs_;
  std::vector<SectionSpec> sections_;
};

}  // namespace sluice::config
