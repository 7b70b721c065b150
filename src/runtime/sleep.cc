#include "runtime/sleep.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace sluice::runtime {

core::Nanos real_wait(const core::Clock& clock, int64_t deadline_ns) {
  const core::Nanos left(std::max<int64_t>(0, deadline_ns - clock.now_ns()));
  return std::min(left, clock.poll_interval());
}

Task<void> sleep_for(const core::Clock& clock, core::Nanos d) {
  const int64_t deadline = clock.now_ns() + d.count();
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  for (auto wait = real_wait(clock, deadline); wait.count() > 0; wait = real_wait(clock, deadline)) {
    timer.expires_after(wait);
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
}

}  // namespace sluice::runtime
