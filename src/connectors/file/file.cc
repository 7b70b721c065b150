#include "connectors/file/file.h"

#include <fcntl.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "connectors/file/line_input.h"
#include "connectors/file/line_output.h"

namespace sluice::connectors {

namespace {
std::vector<config::Field> with_line_fields(std::vector<config::Field> fields) {
  auto shared = line_input_fields();
  fields.insert(fields.end(), shared.begin(), shared.end());
  return fields;
}
}  // namespace

config::ComponentSpec file_input_spec() {
  return {
      .name = "file",
      .kind = config::Kind::input,
      .summary = "Reads a file line by line (blank lines skipped) and ends at its end. Malformed records are "
                 "logged with their line number, counted in sluice_input_invalid_total and skipped.",
      .fields = with_line_fields({{.name = "path", .doc = "File to read.", .required = true}}),
      .example = "input:\n  file: {path: ./recipients.jsonl, codec: json_lines}",
      .make_input = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Input> {
        const std::string& path = v.str("path");
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw v.error("path", fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
        return make_line_input(fd, true, "file", v, ctx);
      },
  };
}

config::ComponentSpec file_output_spec() {
  return {
      .name = "file",
      .kind = config::Kind::output,
      .summary = "Appends each message's payload and a newline to a file, creating it if needed. A write is "
                 "confirmed once it reached the kernel, or the disk with `sync: true`.",
      .fields = {{.name = "path", .doc = "File to append to.", .required = true},
                 {.name = "sync", .type = config::Type::boolean, .doc = "fsync before confirming each write.",
                  .default_value = "false"}},
      .example = "output:\n  file: {path: ./data/sent.jsonl}",
      .make_output = [](const config::Values& v, runtime::BuildContext&) -> std::unique_ptr<runtime::Output> {
        const std::string& path = v.str("path");
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) throw v.error("path", fmt::format("cannot open '{}' for writing: {}", path, std::strerror(errno)));
        return std::make_unique<LineOutput>(fd, true, "file " + path, v.boolean("sync"));
      },
  };
}

}  // namespace sluice::connectors
