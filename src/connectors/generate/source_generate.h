#pragma once
#include "config/spec.h"

namespace sluice::connectors {
// `generate` input: messages from a template, a fixed number or forever, at
// an optional rate. Template functions: {{seq}}, {{uuid}}, {{now}}, {{phone}}.
config::ComponentSpec generate_input_spec();
}  // namespace sluice::connectors
