#include "connectors/file/line_output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "async/blocking.h"

namespace sluice::connectors {

LineOutput::LineOutput(int fd, bool owns_fd, std::string name, bool sync)
    : fd_(fd), owns_(owns_fd), name_(std::move(name)), sync_(sync) {}

LineOutput::~LineOutput() {
  if (owns_ && fd_ >= 0) ::close(fd_);
}

// Returns an error text, empty on success.
std::string LineOutput::write_locked(const std::string& data) {
  std::lock_guard lock(mu_);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fmt::format("{}: write failed: {}", name_, std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  if (sync_ && ::fsync(fd_) != 0) return fmt::format("{}: fsync failed: {}", name_, std::strerror(errno));
  return {};
}

runtime::Task<runtime::BatchOutcome> LineOutput::write(core::Batch& batch) {
  std::string data;
  data.reserve(batch.bytes() + batch.size());
  for (const auto& m : batch.messages) {
    data += m.payload();
    data += '\n';
  }
  // Writes to the page cache take microseconds; an fsync can take
  // milliseconds, so only that goes to the blocking pool.
  std::string err;
  if (sync_) {
    auto work = [this, &data] { return write_locked(data); };
    err = co_await async::run_blocking(std::move(work));  // named: see async/blocking.h
  } else {
    err = write_locked(data);
  }
  if (!err.empty()) co_return runtime::BatchOutcome::all(runtime::WriteOutcome::retry(err));
  co_return runtime::BatchOutcome{};
}

}  // namespace sluice::connectors
