#pragma once
// The bounded channel that carries batches between pipeline stages. Include
// only from runtime .cc files: it pulls in Asio's channel machinery.
//
// An empty batch is the end-of-stream marker: a stage that is done sends one
// per consumer, so consumers drain what is buffered and then stop.

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/system/error_code.hpp>

#include "core/message.h"

namespace sluice::runtime {

using BatchChannel = boost::asio::experimental::concurrent_channel<void(boost::system::error_code, core::Batch)>;

}  // namespace sluice::runtime
