#include "async/spawn.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>

namespace sluice::async {
namespace {

void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

}  // namespace

void spawn(const boost::asio::any_io_executor& ex, std::function<boost::asio::awaitable<void>()> start) {
  boost::asio::co_spawn(ex, std::move(start), rethrow);
}

void spawn(boost::asio::io_context& io, std::function<boost::asio::awaitable<void>()> start) {
  spawn(io.get_executor(), std::move(start));
}

}  // namespace sluice::async
