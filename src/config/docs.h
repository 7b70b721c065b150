#pragma once
// Reference text generated from the component specs (`sluice docs`), so the
// docs can never drift from what the config loader accepts.

#include <optional>
#include <string>

#include "config/registry.h"

namespace sluice::config {

// Everything (topic empty), one component by name (all kinds of that name),
// or a section: "config", "rate_limits", "input", "output", "pipeline".
// Returns nullopt for an unknown topic.
std::optional<std::string> render_docs(const Registry& registry, const std::string& topic = "");

}  // namespace sluice::config
