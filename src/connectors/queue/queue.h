#pragma once
#include <memory>

#include "config/spec.h"

namespace sluice::runtime {
class BuildContext;
}
namespace sluice::connectors::queue {
class Store;
}

namespace sluice::connectors {
config::ComponentSpec queue_input_spec();   // leases from the embedded durable queue
config::ComponentSpec queue_output_spec();  // durably enqueues into it
// The one store per data_dir that every queue component shares.
std::shared_ptr<queue::Store> shared_queue_store(runtime::BuildContext& ctx);
}  // namespace sluice::connectors
