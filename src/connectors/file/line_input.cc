#include "connectors/file/line_input.h"

#include <fmt/format.h>

#include <cstring>

#include "logging/log.h"
#include "async/blocking.h"

namespace sluice::connectors {

LineInput::LineInput(std::unique_ptr<LineReader> reader, std::string name, bool json, size_t batch,
                     metrics::Counter& invalid)
    : reader_(std::move(reader)), name_(std::move(name)), json_(json), batch_(batch), invalid_(invalid) {}

runtime::Task<core::Result<core::Batch>> LineInput::read() {
  if (closed_) co_return core::fail(core::Errc::closed);
  if (eof_) co_return core::fail(core::Errc::end_of_input);
  auto work = [this] {
    std::lock_guard lock(mu_);
    return reader_->read(batch_, json_);
  };
  auto chunk = co_await async::run_blocking(std::move(work));  // named: see async/blocking.h
  for (const auto& e : chunk.errors) {
    invalid_.inc();
    logging::limited(logging::Level::error, name_ + "/invalid", fmt::format("{}: {}", name_, e));
  }
  if (chunk.read_errno)
    logging::error("{}: read failed: {}; treating as end of input", name_, std::strerror(chunk.read_errno));
  if (chunk.eof) eof_ = true;
  core::Batch b;
  b.messages.reserve(chunk.lines.size());
  for (auto& l : chunk.lines) b.messages.emplace_back(std::move(l));
  if (b.empty() && chunk.cancelled) co_return core::fail(core::Errc::closed);
  if (b.empty() && eof_) co_return core::fail(core::Errc::end_of_input);
  co_return b;
}

std::vector<config::Field> line_input_fields() {
  using config::Type;
  return {{.name = "codec", .doc = "lines: each line is a message; json_lines: each line must be JSON.",
           .default_value = "lines", .choices = {"lines", "json_lines"}},
          {.name = "max_line", .type = Type::size, .doc = "Longest line accepted; longer ones are skipped.",
           .default_value = "1MiB", .min = 1},
          {.name = "batch_size", .type = Type::integer, .doc = "Lines per batch.", .default_value = "1000", .min = 1,
           .max = 100000}};
}

std::unique_ptr<runtime::Input> make_line_input(int fd, bool owns_fd, const std::string& name,
                                                const config::Values& v, runtime::BuildContext& ctx) {
  auto& invalid = ctx.metrics().counter("sluice_input_invalid_total", "Records an input skipped as malformed.",
                                        {{"pipeline", ctx.pipeline()}, {"component", name}});
  auto reader = std::make_unique<LineReader>(fd, owns_fd, static_cast<size_t>(v.integer("max_line")));
  return std::make_unique<LineInput>(std::move(reader), name, v.str("codec") == "json_lines",
                                     static_cast<size_t>(v.integer("batch_size")), invalid);
}

}  // namespace sluice::connectors
