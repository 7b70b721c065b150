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
std::vector<OutputCase> output_cases();

}  // namespace sluice::conformance
