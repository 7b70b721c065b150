#pragma once
// Elasticsearch and OpenSearch: the elasticsearch output
// (sink_elasticsearch.cc); bulk.h builds and reads the _bulk API's bodies.

#include "config/spec.h"

namespace sluice::connectors {

config::ComponentSpec elasticsearch_output_spec();

}  // namespace sluice::connectors
