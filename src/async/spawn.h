#pragma once
// Starts a coroutine on an executor, detached. An exception escaping it is a
// bug, so it is rethrown out of io_context::run() instead of vanishing the
// way boost::asio::detached would let it.
//
// Not a template: co_spawn is instantiated once, in spawn.cc, instead of in
// every file that starts a coroutine (about a second of compile time each).

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace sluice::async {

// `start` is called on the executor; what it captures lives until the
// coroutine it returns has finished.
void spawn(const boost::asio::any_io_executor& ex, std::function<boost::asio::awaitable<void>()> start);
void spawn(boost::asio::io_context& io, std::function<boost::asio::awaitable<void>()> start);

// Starts every task at once on `ex` and returns when all have finished (a
// batch of API calls that need not wait for each other).
boost::asio::awaitable<void> all(boost::asio::any_io_executor ex,
                                 std::vector<std::function<boost::asio::awaitable<void>()>> tasks);

}  // namespace sluice::async
