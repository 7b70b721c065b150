#pragma once
#include "config/spec.h"

namespace sluice::processors {
config::ComponentSpec mapping_spec();     // set / delete JSON fields from templates
config::ComponentSpec filter_spec();      // keep messages where a field equals / matches / exists
config::ComponentSpec rate_limit_spec();  // wait for a named rate limit before passing messages on
}  // namespace sluice::processors
