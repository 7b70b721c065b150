#pragma once
#include "config/spec.h"

namespace sluice::connectors {
config::ComponentSpec queue_input_spec();   // leases from the embedded durable queue
config::ComponentSpec queue_output_spec();  // durably enqueues into it
}  // namespace sluice::connectors
