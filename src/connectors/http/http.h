#pragma once
#include "config/spec.h"

namespace sluice::connectors {
// `http_server` input: webhooks in (form or JSON), optionally checking
// X-Twilio-Signature, answered once the pipeline's outputs confirmed.
config::ComponentSpec http_server_input_spec();
// `http_client` output: one HTTP request per message, retried on 429/5xx.
config::ComponentSpec http_client_output_spec();
}  // namespace sluice::connectors
