#include "async/blocking.h"

namespace sluice::async {

boost::asio::thread_pool& blocking_pool() {
  static boost::asio::thread_pool pool(4);
  return pool;
}

}  // namespace sluice::async
