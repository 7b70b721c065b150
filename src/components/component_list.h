#pragma once
#include "config/registry.h"

namespace sluice::components {
// Every component type sluice knows, in one explicit list.
const config::Registry& component_list();
}  // namespace sluice::components
