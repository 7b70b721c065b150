#pragma once
// The output behind `file` and `stdout`: each message's payload and a
// newline, appended with write(2); optionally fsync'd before the write is
// confirmed. A confirmed write has reached the kernel (or the disk, with
// sync), so it survives a crash of sluice.

#include <mutex>
#include <string>

#include "runtime/component.h"

namespace sluice::connectors {

class LineOutput final : public runtime::Output {
 public:
  LineOutput(int fd, bool owns_fd, std::string name, bool sync);
  ~LineOutput() override;
  runtime::Task<runtime::BatchOutcome> write(core::Batch& batch) override;

 private:
  std::string write_locked(const std::string& data);
  std::mutex mu_;
  int fd_;
  bool owns_;
  std::string name_;
  bool sync_;
};

}  // namespace sluice::connectors
