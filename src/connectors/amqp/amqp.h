#pragma once
// RabbitMQ (AMQP 0-9-1): the amqp input (source_amqp.cc: consumers with a
// prefetch, acks batched into multiple-acks, nacks, dead letters through
// the queue's dead-letter exchange) and output (sink_amqp.cc: publisher
// confirms, mandatory returns, blocked connections as backpressure). The
// protocol and connection are src/amqp/.

#include "config/spec.h"

namespace sluice::connectors {

config::ComponentSpec amqp_input_spec();
config::ComponentSpec amqp_output_spec();

}  // namespace sluice::connectors
