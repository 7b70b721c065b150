#pragma once
// The input behind `file` and `stdin`: line records from a descriptor, read
// on the blocking pool, ending at end of file.

#include <memory>
#include <mutex>
#include <string>

#include "config/spec.h"
#include "connectors/file/line_reader.h"
#include "metrics/metrics.h"
#include "runtime/component.h"

namespace sluice::connectors {

class LineInput final : public runtime::Input {
 public:
  LineInput(std::unique_ptr<LineReader> reader, std::string name, bool json, size_t batch,
            metrics::Counter& invalid);
  runtime::Task<core::Result<core::Batch>> read() override;
  // Ends a read that waits for data (a pipe with no writer yet) at once.
  void close() override {
    closed_ = true;
    reader_->cancel();
  }

 private:
  std::mutex mu_;  // one blocking read at a time
  std::unique_ptr<LineReader> reader_;
  std::string name_;
  bool json_;
  size_t batch_;
  metrics::Counter& invalid_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> eof_{false};
};

// Fields shared by every line input: codec, max_line, batch_size.
std::vector<config::Field> line_input_fields();
// Builds a LineInput reading `fd` with the shared fields' values.
std::unique_ptr<runtime::Input> make_line_input(int fd, bool owns_fd, const std::string& name,
                                                const config::Values& v, runtime::BuildContext& ctx);

}  // namespace sluice::connectors
