#include "async/blocking.h"

namespace sluice::async {

boost::asio::thread_pool& blocking_pool() {
  static boost::asio::thread_pool pool(4);
  return pool;
}

namespace detail {

uint64_t ParkedSet::add(std::shared_ptr<Parked> p) {
  std::unique_lock lock(mu_);
  const uint64_t id = ++next_;
  if (!closed_) {
    parked_.emplace(id, std::move(p));
    return id;
  }
  // Parked after the shutdown: destroyed at once like everything parked
  // before it (outside the lock, see destroy_all).
  lock.unlock();
  p.reset();
  return id;
}

void ParkedSet::resume(uint64_t id, const std::function<void(std::shared_ptr<Parked>)>& resume) {
  std::lock_guard lock(mu_);
  const auto it = parked_.find(id);
  if (it == parked_.end()) return;
  auto p = std::move(it->second);
  parked_.erase(it);
  resume(std::move(p));
}

void ParkedSet::destroy_all() {
  std::unordered_map<uint64_t, std::shared_ptr<Parked>> doomed;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    doomed.swap(parked_);
  }
  // Outside the lock: destroying a frame can resolve acks, whose wake-ups
  // call back into resume() (and find nothing).
  doomed.clear();
}

namespace {

// Holds an execution context's ParkedSet; its shutdown() runs in the
// context's shutdown, before the scheduler's (services shut down newest
// first), so a destroyed coroutine's stack is unwound through the scheduler
// as Asio requires, and freed there.
class ParkedService final : public boost::asio::execution_context::service {
 public:
  static inline boost::asio::execution_context::id id;
  explicit ParkedService(boost::asio::execution_context& ctx)
      : service(ctx), set_(std::make_shared<ParkedSet>()) {}
  std::shared_ptr<ParkedSet> set() const { return set_; }

 private:
  void shutdown() override { set_->destroy_all(); }
  std::shared_ptr<ParkedSet> set_;
};

}  // namespace

std::shared_ptr<ParkedSet> parked_set(boost::asio::execution_context& ctx) {
  return boost::asio::use_service<ParkedService>(ctx).set();
}

}  // namespace detail
}  // namespace sluice::async
