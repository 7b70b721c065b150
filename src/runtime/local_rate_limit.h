#pragma once
// The `local` rate-limit backend: buckets in this process.
#include "config/spec.h"

namespace sluice::runtime {
config::ComponentSpec local_rate_limit_spec();
}
