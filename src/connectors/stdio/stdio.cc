#include "connectors/stdio/stdio.h"

#include <unistd.h>

#include "connectors/file/line_input.h"
#include "connectors/file/line_output.h"

namespace sluice::connectors {

namespace {
class DropOutput final : public runtime::Output {
 public:
  runtime::Task<runtime::BatchOutcome> write(core::Batch&) override { co_return runtime::BatchOutcome{}; }
};
}  // namespace

config::ComponentSpec stdin_input_spec() {
  return {
      .name = "stdin",
      .kind = config::Kind::input,
      .summary = "Reads standard input line by line and ends at end of file.",
      .fields = line_input_fields(),
      .example = "input:\n  stdin: {codec: json_lines}",
      .make_input = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Input> {
        return make_line_input(STDIN_FILENO, false, "stdin", v, ctx);
      },
  };
}

config::ComponentSpec stdout_output_spec() {
  return {
      .name = "stdout",
      .kind = config::Kind::output,
      .summary = "Writes each message's payload and a newline to standard output.",
      .example = "output:\n  stdout: {}",
      .make_output = [](const config::Values&, runtime::BuildContext&) -> std::unique_ptr<runtime::Output> {
        return std::make_unique<LineOutput>(STDOUT_FILENO, false, "stdout", false);
      },
  };
}

config::ComponentSpec drop_output_spec() {
  return {
      .name = "drop",
      .kind = config::Kind::output,
      .summary = "Confirms every message and discards it. For benchmarks and for pipelines run for their side "
                 "effects.",
      .example = "output:\n  drop: {}",
      .make_output = [](const config::Values&, runtime::BuildContext&) -> std::unique_ptr<runtime::Output> {
        return std::make_unique<DropOutput>();
      },
  };
}

}  // namespace sluice::connectors
