#pragma once
// Reads newline-delimited records from a file descriptor in chunks; shared by
// the `file` and `stdin` inputs. Blocking: call it through run_blocking().
//
// Blank lines are skipped; a trailing "\r" is dropped; a line longer than
// max_line is reported and skipped rather than buffered without bound.
// Threads: one reader at a time (the inputs hold a mutex around it).

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
    int read_errno = 0;
  };
  Chunk read(size_t max_lines, bool json);

 private:
  bool fill();
  int fd_;
  bool owns_;
  size_t max_line_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  int errno_ = 0;
  bool skipping_ = false;  // inside an over-long line
  uint64_t line_no_ = 0;
};

}  // namespace sluice::connectors
