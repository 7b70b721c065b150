#pragma once
// Bridges between coroutines and other threads.
//
// run_blocking(fn): runs blocking work (file reads, fsync) on a small thread
// pool and resumes the caller on its own executor with the result, so no
// event-loop thread ever blocks.
//
// await_callback<R>(start): suspends until the callback passed to `start`
// is called (from any thread, exactly once) and resumes the caller on its
// own executor with the value. For components that own a thread, like the
// embedded queue's database thread.
//
// GCC 12 rule: create no non-trivial temporary inside a co_await expression:
// no capturing lambda (`co_await run_blocking([x] {...})`), no braced or
// computed argument (`co_await f({"GET", url + "/x"})`), no co_await inside
// `?:`. GCC 12 can destroy such temporaries twice (a double free; see
// github.com/chriskohlhoff/asio/issues/1007). Name the value first:
//   auto work = [x] {...};
//   co_await run_blocking(std::move(work));

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <memory>
#include <type_traits>


namespace sluice::async {

boost::asio::thread_pool& blocking_pool();

template <class R, class Start>
boost::asio::awaitable<R> await_callback(Start start) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(R)>(
      [start = std::move(start)](auto handler) mutable {
        using Handler = decltype(handler);
        auto shared = std::make_shared<Handler>(std::move(handler));
        start(std::function<void(R)>([shared](R result) {
          auto ex = boost::asio::get_associated_executor(*shared);
          boost::asio::post(ex, [shared, result = std::move(result)]() mutable {
            std::move (*shared)(std::move(result));
          });
        }));
      },
      boost::asio::use_awaitable);
}

template <class F, class R = std::invoke_result_t<F>>
boost::asio::awaitable<R> run_blocking(F fn) {
  return await_callback<R>([fn = std::move(fn)](std::function<void(R)> done) mutable {
    boost::asio::post(blocking_pool(), [fn = std::move(fn), done = std::move(done)]() mutable { done(fn()); });
  });
}

}  // namespace sluice::async
