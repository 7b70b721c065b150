#pragma once
#include "config/spec.h"

namespace sluice::connectors {
// `twilio` output: one Messages API request per message.
config::ComponentSpec twilio_output_spec();
// `twilio_lookup` output: asks the Messages API for a message's status.
config::ComponentSpec twilio_lookup_output_spec();
}  // namespace sluice::connectors
