#pragma once
// Waiting on the injected clock (core::Clock): on the real clock a wait is
// one timer; on a ManualClock it wakes every poll_interval() to read the
// clock, so a test that advances the clock by an hour ends an hour's wait at
// once. Include from runtime .cc files.

#include <chrono>
#include <cstdint>

#include "core/clock.h"
#include "runtime/task.h"

namespace sluice::runtime {

// Real time to wait before reading `clock` again on the way to
// `deadline_ns`: zero once it has passed.
core::Nanos real_wait(const core::Clock& clock, int64_t deadline_ns);

// Returns once `clock` has advanced by `d`.
Task<void> sleep_for(const core::Clock& clock, core::Nanos d);

}  // namespace sluice::runtime
