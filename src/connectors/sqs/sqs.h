#pragma once
// AWS SQS: the sqs input (source_sqs.cc) and output (sink_sqs.cc); client.h
// speaks the JSON protocol.

#include "config/spec.h"

namespace sluice::connectors {

config::ComponentSpec sqs_input_spec();
config::ComponentSpec sqs_output_spec();

}  // namespace sluice::connectors
