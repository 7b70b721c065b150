#pragma once
// Test helper: runs one awaitable to completion on an io_context. An
// exception it throws comes out of this call.

#include <boost/asio/io_context.hpp>

#include <optional>

#include "async/spawn.h"

namespace sluice::testing {

template <class T>
T run_awaitable(boost::asio::io_context& io, boost::asio::awaitable<T> a) {
  std::optional<T> out;
  async::spawn(io, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await std::move(a)); });
  io.restart();
  io.run();
  return std::move(*out);
}

}  // namespace sluice::testing
