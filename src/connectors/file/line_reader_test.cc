#include "connectors/file/line_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

namespace sluice::connectors {
namespace {

// A pipe fed by a writer thread, so reads see the data arrive in pieces.
struct Pipe {
  int fds[2];
  Pipe() { EXPECT_EQ(::pipe(fds), 0); }
  void write_all_and_close(std::string data) {
    writer = std::thread([this, data = std::move(data)] {
      for (size_t i = 0; i < data.size(); i += 7) {
        size_t n = std::min<size_t>(7, data.size() - i);
        EXPECT_EQ(::write(fds[1], data.data() + i, n), static_cast<ssize_t>(n));
      }
      ::close(fds[1]);
    });
  }
  ~Pipe() {
    if (writer.joinable()) writer.join();
  }
  std::thread writer;
};

std::vector<std::string> all_lines(LineReader& r, bool json, std::vector<std::string>* errors = nullptr) {
  std::vector<std::string> out;
  for (;;) {
    auto c = r.read(3, json);
    out.insert(out.end(), c.lines.begin(), c.lines.end());
    if (errors) errors->insert(errors->end(), c.errors.begin(), c.errors.end());
    if (c.eof) break;
  }
  return out;
}

TEST(LineReader, SplitsLinesSkipsBlanksAndHandlesCrlfAndMissingFinalNewline) {
  Pipe p;
  p.write_all_and_close("a\r\n\nbb\n  \nccc");
  LineReader r(p.fds[0], true, 1024);
  EXPECT_EQ(all_lines(r, false), (std::vector<std::string>{"a", "bb", "  ", "ccc"}));
}

TEST(LineReader, OverlongLinesAreSkippedAndReported) {
  Pipe p;
  p.write_all_and_close("ok\n" + std::string(100, 'x') + "\nafter\n");
  LineReader r(p.fds[0], true, 16);
  std::vector<std::string> errors;
  EXPECT_EQ(all_lines(r, false, &errors), (std::vector<std::string>{"ok", "after"}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "line 2: longer than 16 bytes, skipped");
}

TEST(LineReader, JsonLinesRejectsMalformedAndTruncatedRecords) {
  Pipe p;
  p.write_all_and_close("{\"a\":1}\n{\"a\":\n[1,2]\nnot json\n{\"b\":2}\n{\"trunc");
  LineReader r(p.fds[0], true, 1024);
  std::vector<std::string> errors;
  EXPECT_EQ(all_lines(r, true, &errors), (std::vector<std::string>{"{\"a\":1}", "[1,2]", "{\"b\":2}"}));
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].substr(0, 22), "line 2: invalid JSON (");
  EXPECT_EQ(errors[1].substr(0, 22), "line 4: invalid JSON (");
  EXPECT_EQ(errors[2].substr(0, 22), "line 6: invalid JSON (");
}

}  // namespace
}  // namespace sluice::connectors
