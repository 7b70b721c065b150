#pragma once
// Test helper: runs one awaitable to completion on an io_context.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>

namespace sluice::testing {

template <class T>
T run_awaitable(boost::asio::io_context& io, boost::asio::awaitable<T> a) {
  std::optional<T> out;
  auto body = [&]() -> boost::asio::awaitable<void> { out.emplace(co_await std::move(a)); };
  boost::asio::co_spawn(io, body, boost::asio::detached);
  io.restart();
  io.run();
  return std::move(*out);
}

}  // namespace sluice::testing
