#pragma once
// Bridges between coroutines and other threads.
//
// run_blocking(fn): runs blocking work (file reads, fsync) on a small thread
// pool and resumes the caller on its own executor with the result, so no
// event-loop thread ever blocks.
//
// await_callback<R>(start): suspends until the callback passed to `start`
// is called (from any thread, at most once) and resumes the caller on its
// own executor with the value. For components that own a thread, like the
// embedded queue's database thread, and for wake-ups kept in shared state.
// The suspended coroutine belongs to its execution context, not to the
// callback: when the context shuts down (the engine's forced stop) with the
// callback still uncalled, the coroutine is destroyed then, and a later call
// does nothing. A callback kept in state that the coroutine's own frame
// keeps alive would otherwise be a cycle that leaks the whole stack.
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
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <unordered_map>


namespace sluice::async {

boost::asio::thread_pool& blocking_pool();

namespace detail {

// A coroutine suspended in await_callback, type-erased.
struct Parked {
  virtual ~Parked() = default;
};

// The coroutines one execution context has parked. Shared with the
// callbacks (weakly), which may outlive the context.
class ParkedSet {
 public:
  uint64_t add(std::shared_ptr<Parked> p);
  // Runs `resume` with the coroutine parked as `id`, under the set's lock so
  // that it cannot race the shutdown; nothing when it is already gone.
  void resume(uint64_t id, const std::function<void(std::shared_ptr<Parked>)>& resume);
  // The context's shutdown: destroys every coroutine still parked.
  void destroy_all();

 private:
  std::mutex mu_;
  uint64_t next_ = 0;
  bool closed_ = false;
  std::unordered_map<uint64_t, std::shared_ptr<Parked>> parked_;
};

std::shared_ptr<ParkedSet> parked_set(boost::asio::execution_context& ctx);

}  // namespace detail

template <class R, class Start>
boost::asio::awaitable<R> await_callback(Start start) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(R)>(
      [start = std::move(start)](auto handler) mutable {
        using Handler = decltype(handler);
        struct Held final : detail::Parked {
          explicit Held(Handler h) : handler(std::move(h)) {}
          Handler handler;
        };
        auto ex = boost::asio::get_associated_executor(handler);
        auto set = detail::parked_set(boost::asio::query(ex, boost::asio::execution::context));
        const uint64_t id = set->add(std::make_shared<Held>(std::move(handler)));
        std::weak_ptr<detail::ParkedSet> weak = set;
        start(std::function<void(R)>([weak, id, ex](R result) {
          const auto parked = weak.lock();
          if (!parked) return;  // the context is gone, and the coroutine with it
          parked->resume(id, [&](std::shared_ptr<detail::Parked> p) {
            auto held = std::static_pointer_cast<Held>(std::move(p));
            boost::asio::post(ex, [held, result = std::move(result)]() mutable {
              std::move(held->handler)(std::move(result));
            });
          });
        }));
      },
      boost::asio::use_awaitable);
}

template <class F, class R = std::invoke_result_t<F>>
boost::asio::awaitable<R> run_blocking(F fn) {
  return await_callback<R>([fn = std::move(fn)](std::function<void(R)> done) mutable {
    boost::asio::post(blocking_pool(), [fn = std::move(fn), done = std::move(done)]() mutable {
      R result = fn();
      F(std::move(fn));  // destroys its captures (a store's last reference) before the caller resumes
      done(std::move(result));
    });
  });
}

}  // namespace sluice::async
