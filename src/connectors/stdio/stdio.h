#pragma once
#include "config/spec.h"

namespace sluice::connectors {
config::ComponentSpec stdin_input_spec();    // lines from standard input, ending at EOF
config::ComponentSpec stdout_output_spec();  // one line per message
config::ComponentSpec drop_output_spec();    // confirms and discards
}  // namespace sluice::connectors
