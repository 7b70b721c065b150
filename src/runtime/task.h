#pragma once
// The coroutine type of every asynchronous runtime interface. Asio appears
// only as awaitable, so any header may include this one.

#include <boost/asio/awaitable.hpp>

namespace sluice::runtime {

template <class T>
using Task = boost::asio::awaitable<T>;

}  // namespace sluice::runtime
