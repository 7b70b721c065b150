#pragma once
// The harness of every connector in the component list (harnesses.cc).

#include "conformance.h"

namespace sluice::conformance {

struct InputCase {
  std::string name;
  std::function<std::unique_ptr<InputHarness>()> make;
};
struct OutputCase {
  std::string name;
  std::function<std::unique_ptr<OutputHarness>()> make;
};

std::vector<InputCase> input_cases();
// Harnesses with a file of their own (a peer to start).
std::unique_ptr<InputHarness> make_sqs_harness();
std::unique_ptr<InputHarness> make_amqp_harness();
std::unique_ptr<OutputHarness> make_amqp_output_harness();
std::unique_ptr<OutputHarness> make_sqs_output_harness();
std::unique_ptr<OutputHarness> make_elasticsearch_harness();
std::unique_ptr<InputHarness> make_redis_list_harness();
std::unique_ptr<InputHarness> make_sidekiq_input_harness();
std::unique_ptr<InputHarness> make_redis_streams_harness();
std::unique_ptr<OutputHarness> make_redis_streams_output_harness();
std::unique_ptr<OutputHarness> make_redis_list_output_harness();
std::unique_ptr<OutputHarness> make_sidekiq_output_harness();

// Shared by the harnesses.
int free_port();  // a loopback port nothing listens on now
std::string json_payload(const std::string& id);  // {"id":"<id>"}
std::string id_of(const std::string& json_text, const char* field = "id");
std::vector<std::string> ids_of(const std::vector<std::string>& jsons);
std::vector<OutputCase> output_cases();

}  // namespace sluice::conformance
