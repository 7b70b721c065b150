// libFuzzer target for Sidekiq jobs as a hostile pusher could leave them in
// a queue (connectors/sidekiq/job_reader.h). Promises beside "no crash": a
// job that reads has a class and says so, and what was read can be pushed
// again (job.h) and reads back the same: as a plain job, and an ActiveJob
// also as an ActiveJob (a plain job's arguments may hold keys ActiveJob
// reserves, which job.h rightly refuses to wrap). A failed job (job_retry.h)
// reads again, one failure further on.
#include <cstdint>
#include <string_view>

#include <boost/json/serialize.hpp>

#include "connectors/sidekiq/job.h"
#include "connectors/sidekiq/job_reader.h"
#include "connectors/sidekiq/job_retry.h"
#include "fuzz_check.h"

namespace sidekiq = sluice::connectors::sidekiq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto read = sidekiq::read_job(text);
  if (!read) {
    sluice::fuzz::check(!read.error().to_string().empty(), "a refused job says why");
    return 0;
  }
  sluice::fuzz::check(!read->job_class.empty(), "a job that reads has a class");
  sidekiq::Job again;
  again.queue = read->queue.empty() ? "default" : read->queue;
  again.args = read->args;
  again.jid = read->jid;
  again.active_job_id = read->active_job_id;
  for (bool active_job : {false, true}) {
    if (active_job && !read->active_job) continue;
    if (!active_job && read->job_class == "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper") continue;
    auto text_again = sidekiq::job_json({read->job_class, active_job}, again, sidekiq::Format::v7, 1700000000);
    sluice::fuzz::check(text_again.has_value(), "what was read can be pushed again",
                        text_again ? std::string_view() : std::string_view(text_again.error().to_string()));
    auto reread = sidekiq::read_job(*text_again);
    sluice::fuzz::check(reread.has_value(), "what was pushed again reads", *text_again);
    sluice::fuzz::check(reread->args == read->args && reread->job_class == read->job_class &&
                            reread->jid == read->jid && reread->active_job == active_job,
                        "what was pushed again reads back the same", *text_again);
  }
  std::mt19937_64 rng(size);
  const auto failed = sidekiq::after_failure(*read, {"E", "boom"}, 25, sidekiq::Format::v7, 1700000000, rng);
  if (failed.where != sidekiq::Disposition::Where::dropped) {
    auto reread = sidekiq::read_job(failed.payload);
    sluice::fuzz::check(reread.has_value(), "a failed job reads", failed.payload);
    sluice::fuzz::check(reread->retry_count == failed.retry_count && failed.retry_count == read->retry_count.value_or(-1) + 1,
                        "a failed job counts one failure more", failed.payload);
  }
  return 0;
}
