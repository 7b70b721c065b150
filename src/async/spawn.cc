#include "async/spawn.h"

#include "async/blocking.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <exception>
#include <memory>

namespace sluice::async {
namespace {

void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

boost::asio::awaitable<void> one_of_all(std::function<boost::asio::awaitable<void>()> task,
                                        std::shared_ptr<std::atomic<size_t>> left, std::function<void(bool)> done) {
  co_await task();
  if (left->fetch_sub(1) == 1) done(true);
}

}  // namespace

void spawn(const boost::asio::any_io_executor& ex, std::function<boost::asio::awaitable<void>()> start) {
  boost::asio::co_spawn(ex, std::move(start), rethrow);
}

void spawn(boost::asio::io_context& io, std::function<boost::asio::awaitable<void>()> start) {
  spawn(io.get_executor(), std::move(start));
}

boost::asio::awaitable<void> all(boost::asio::any_io_executor ex,
                                 std::vector<std::function<boost::asio::awaitable<void>()>> tasks) {
  if (tasks.empty()) co_return;
  auto left = std::make_shared<std::atomic<size_t>>(tasks.size());
  auto start = [&ex, &tasks, left](std::function<void(bool)> done) {
    for (auto& t : tasks)
      spawn(ex, [t = std::move(t), left, done] { return one_of_all(t, left, done); });
  };
  co_await await_callback<bool>(std::move(start));  // named: see blocking.h
}

}  // namespace sluice::async
