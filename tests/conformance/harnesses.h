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
std::vector<OutputCase> output_cases();

}  // namespace sluice::conformance
