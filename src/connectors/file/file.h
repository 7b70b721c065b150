#pragma once
#include "config/spec.h"

namespace sluice::connectors {
config::ComponentSpec file_input_spec();   // lines or JSON lines from a file, ending at its end
config::ComponentSpec file_output_spec();  // appends one line per message
}  // namespace sluice::connectors
