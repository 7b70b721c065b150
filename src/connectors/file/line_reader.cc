#include "connectors/file/line_reader.h"

#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace sluice::connectors {

LineReader::LineReader(int fd, bool owns_fd, size_t max_line)
    : fd_(fd), cancel_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), owns_(owns_fd), max_line_(max_line) {}

LineReader::~LineReader() {
  if (owns_ && fd_ >= 0) ::close(fd_);
  if (cancel_fd_ >= 0) ::close(cancel_fd_);
}

void LineReader::cancel() {
  const uint64_t one = 1;
  if (cancel_fd_ >= 0) [[maybe_unused]] auto n = ::write(cancel_fd_, &one, sizeof one);
}

bool LineReader::fill() {
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  char tmp[64 * 1024];
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {cancel_fd_, POLLIN, 0}};
    if (::poll(fds, cancel_fd_ >= 0 ? 2 : 1, -1) < 0 && errno == EINTR) continue;
    if (fds[1].revents & POLLIN) {
      cancelled_ = eof_ = true;
      return false;
    }
    ssize_t n = ::read(fd_, tmp, sizeof tmp);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    errno_ = errno;
    eof_ = true;
    return false;
  }
}

LineReader::Chunk LineReader::read(size_t max_lines, bool json) {
  Chunk c;
  while (c.lines.size() < max_lines) {
    size_t nl = buf_.find('\n', pos_);
    if (nl == std::string::npos) {
      if (buf_.size() - pos_ > max_line_) {
        // Drop what we have of the over-long line and keep skipping to its end.
        if (!skipping_) c.errors.push_back(fmt::format("line {}: longer than {} bytes, skipped", line_no_ + 1, max_line_));
        skipping_ = true;
        buf_.clear();
        pos_ = 0;
      }
      if (eof_ || !fill()) {
        if (pos_ < buf_.size() && !skipping_) {  // last line without a newline
          nl = buf_.size();
        } else {
          c.eof = !cancelled_;
          c.cancelled = cancelled_;
          c.read_errno = errno_;
          break;
        }
      } else {
        continue;
      }
    }
    std::string_view line(buf_.data() + pos_, nl - pos_);
    pos_ = std::min(nl + 1, buf_.size());
    ++line_no_;
    if (skipping_) {
      skipping_ = false;
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.size() > max_line_) {
      c.errors.push_back(fmt::format("line {}: longer than {} bytes, skipped", line_no_, max_line_));
      continue;
    }
    if (json) {
      boost::system::error_code ec;
      boost::json::parse(line, ec);
      if (ec) {
        c.errors.push_back(fmt::format("line {}: invalid JSON ({}), skipped", line_no_, ec.message()));
        continue;
      }
    }
    c.lines.emplace_back(line);
  }
  return c;
}

}  // namespace sluice::connectors
