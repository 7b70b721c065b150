#pragma once
// co_spawn for the runtime's own coroutines: an exception escaping one is a
// bug, so it is rethrown out of io_context::run() instead of vanishing the
// way boost::asio::detached would let it.

#include <boost/asio/co_spawn.hpp>

#include <exception>

namespace sluice::runtime {

struct RethrowOnError {
  void operator()(std::exception_ptr e) const {
    if (e) std::rethrow_exception(e);
  }
};

template <class Executor, class Awaitable>
void spawn(Executor&& ex, Awaitable&& a) {
  boost::asio::co_spawn(std::forward<Executor>(ex), std::forward<Awaitable>(a), RethrowOnError{});
}

}  // namespace sluice::runtime
