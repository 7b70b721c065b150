#pragma once
// Reads newline-delimited records from a file descriptor in chunks; shared by
// the `file` and `stdin` inputs. Blocking: call it through run_blocking().
//
// Blank lines are skipped; a trailing "\r" is dropped; a line longer than
// max_line is reported and skipped rather than buffered without bound.
// cancel() ends a read that waits for data (a pipe, a terminal, a FIFO) at
// once: the reader polls the descriptor together with an eventfd.
// Threads: one reader at a time (the inputs hold a mutex around it);
// cancel() from any thread.

#include <string>
#include <vector>

namespace sluice::connectors {

class LineReader {
 public:
  LineReader(int fd, bool owns_fd, size_t max_line);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  struct Chunk {
    std::vector<std::string> lines;
    std::vector<std::string> errors;  // "line N: ..." for skipped records
    bool eof = false;
    bool cancelled = false;
    int read_errno = 0;
  };
  Chunk read(size_t max_lines, bool json);
  void cancel();

 private:
  bool fill();
  int fd_;
  int cancel_fd_;  // an eventfd, readable once cancel() was called
  bool owns_;
  size_t max_line_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  bool cancelled_ = false;
  int errno_ = 0;
  bool skipping_ = false;  // inside an over-long line
  uint64_t line_no_ = 0;
};

}  // namespace sluice::connectors
