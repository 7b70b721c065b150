#pragma once
#include "config/spec.h"

namespace sluice::connectors {
// `http_server` input: webhooks in (form or JSON), optionally checking
// X-Twilio-Signature, answered once the pipeline's outputs confirmed.
config::ComponentSpec http_server_input_spec();
}  // namespace sluice::connectors
