#include "components/component_list.h"

#include "alerts/api.h"
#include "connectors/amqp/amqp.h"
#include "connectors/elasticsearch/elasticsearch.h"
#include "connectors/file/file.h"
#include "connectors/generate/source_generate.h"
#include "connectors/http/client_settings.h"
#include "connectors/http/http.h"
#include "connectors/ledger/ledger.h"
#include "connectors/queue/queue.h"
#include "connectors/redis/redis.h"
#include "connectors/sidekiq/sidekiq.h"
#include "connectors/sqs/sqs.h"
#include "connectors/stdio/stdio.h"
#include "connectors/twilio/twilio.h"
#include "processors/processors.h"
#include "runtime/local_rate_limit.h"

namespace sluice::components {

const config::Registry& component_list() {
  static const config::Registry registry = [] {
    config::Registry r;
    // Inputs
    r.add(connectors::generate_input_spec());
    r.add(connectors::file_input_spec());
    r.add(connectors::stdin_input_spec());
    r.add(connectors::queue_input_spec());
    r.add(connectors::http_server_input_spec());
    r.add(connectors::sqs_input_spec());
    r.add(connectors::amqp_input_spec());
    r.add(connectors::redis_list_input_spec());
    r.add(connectors::redis_streams_input_spec());
    r.add(connectors::sidekiq_input_spec());
    r.add(connectors::ledger_overdue_input_spec());
    r.add(connectors::ledger_resend_input_spec());
    // Processors
    r.add(processors::mapping_spec());
    r.add(processors::filter_spec());
    r.add(processors::rate_limit_spec());
    r.add(connectors::ledger_dedupe_spec());
    // Outputs
    r.add(connectors::stdout_output_spec());
    r.add(connectors::file_output_spec());
    r.add(connectors::drop_output_spec());
    r.add(connectors::queue_output_spec());
    r.add(connectors::twilio_output_spec());
    r.add(connectors::twilio_lookup_output_spec());
    r.add(connectors::http_client_output_spec());
    r.add(connectors::sqs_output_spec());
    r.add(connectors::amqp_output_spec());
    r.add(connectors::elasticsearch_output_spec());
    r.add(connectors::redis_list_output_spec());
    r.add(connectors::redis_streams_output_spec());
    r.add(connectors::sidekiq_output_spec());
    r.add(connectors::ledger_output_spec());
    // Rate-limit backends
    r.add(runtime::local_rate_limit_spec());
    r.add(connectors::redis_rate_limit_backend_spec());
    // Resources: shared clients
    r.add(connectors::http_resource_spec());
    r.add(connectors::redis_resource_spec());
    // Feature sections of the config
    r.add_section(alerts::section_spec());
    r.add_section(connectors::ledger_section_spec());
    return r;
  }();
  return registry;
}

}  // namespace sluice::components
