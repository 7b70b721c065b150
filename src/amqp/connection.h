#pragma once
// An AMQP 0-9-1 connection on the runtime's event loop (the codec is
// written on Asio: README.md says why not rabbitmq-c). One socket, its
// reader, writer and heartbeat coroutines on one strand; any number of
// channels, used from any thread.
//
// Synchronous methods (qos, declare, bind, consume, confirm.select) are
// awaited and fail with the broker's reason when it closes the channel
// ("404 NOT_FOUND - no queue 'x'"). Acks, nacks and publishes are written,
// not awaited: they join the next write, so a burst of them is one syscall.
// What arrives for a channel (deliveries, confirms, returns, its closing)
// goes to its ChannelEvents, called on the reader: they must not block.
//
// The connection ends for good on a socket error, missed heartbeats, a
// connection.close from the broker or a frame out of place; every channel
// hears closed() with the reason, and wait_closed() returns. Reconnecting
// is the owner's job (a new Connection).
//
// URLs: amqp://[user[:password]@]host[:port][/vhost] (vhost percent-encoded,
// "/" when absent; guest:guest by default), amqps:// for TLS (certificate and
// host name verified against the system's CAs or tls_ca_file).

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "amqp/wire.h"
#include "core/error.h"

namespace boost::asio {
class io_context;
}

namespace sluice::amqp {

struct Endpoint {
  std::string host;
  std::string port = "5672";
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  bool tls = false;
};
core::Result<Endpoint> parse_url(const std::string& url);

struct ConnectOptions {
  std::string url = "amqp://127.0.0.1:5672";
  std::chrono::seconds heartbeat{30};  // 0: none (the broker's wish wins when lower)
  std::chrono::nanoseconds connect_timeout = std::chrono::seconds(10);
  bool tls_verify = true;
  std::string tls_ca_file;
  std::string name = "sluice";     // connection_name, shown by the management UI and rabbitmqctl
  size_t max_body = 128 << 20;     // a bigger delivery ends the connection (RabbitMQ's own default cap)
  size_t frame_max = 131072;       // what we accept; the broker may ask for less
};

struct Delivery {
  uint16_t channel = 0;
  uint64_t tag = 0;
  bool redelivered = false;
  std::string exchange, routing_key;
  Properties properties;
  std::string body;
};

struct Returned {
  uint16_t code = 0;
  std::string text, exchange, routing_key;
  Properties properties;
  std::string body;
};

// What a channel hears; called on the connection's reader, never at once.
struct ChannelEvents {
  // All the deliveries one read from the socket brought, in order: one
  // hand-over per read, not per message, keeps threads from waking each other.
  std::function<void(std::vector<Delivery>)> deliveries;
  std::function<void(uint64_t tag, bool multiple, bool ack)> confirm;  // publisher confirms
  std::function<void(Returned)> returned;                              // mandatory, unroutable
  std::function<void(const core::Error&)> closed;                      // the channel or connection ended
};

struct QueueOptions {
  bool passive = false;  // only check that it exists
  bool durable = true;
  bool exclusive = false;
  bool auto_delete = false;
  Table arguments;  // x-queue-type, x-dead-letter-exchange, x-delivery-limit, ...
};

struct QueueInfo {
  std::string name;
  uint32_t messages = 0, consumers = 0;
};

class Connection {
 public:
  // Connects, authenticates (PLAIN) and opens the vhost. Errc::unavailable
  // when the broker cannot be reached, io_error when it refuses (bad
  // credentials, an unknown vhost), with the broker's words.
  static boost::asio::awaitable<core::Result<std::shared_ptr<Connection>>> open(boost::asio::io_context& io,
                                                                                  ConnectOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  boost::asio::awaitable<core::Result<uint16_t>> open_channel(ChannelEvents events);
  boost::asio::awaitable<core::Result<void>> qos(uint16_t channel, uint16_t prefetch);
  boost::asio::awaitable<core::Result<QueueInfo>> declare_queue(uint16_t channel, const std::string& name,
                                                                const QueueOptions& options);
  boost::asio::awaitable<core::Result<void>> bind_queue(uint16_t channel, const std::string& queue,
                                                        const std::string& exchange, const std::string& routing_key,
                                                        const Table& arguments = {});
  // Returns the consumer tag.
  boost::asio::awaitable<core::Result<std::string>> consume(uint16_t channel, const std::string& queue,
                                                            const Table& arguments = {});
  // Puts the channel in confirm mode: publishes are numbered from 1.
  boost::asio::awaitable<core::Result<void>> confirm_select(uint16_t channel);

  void ack(uint16_t channel, uint64_t tag, bool multiple);
  void nack(uint16_t channel, uint64_t tag, bool multiple, bool requeue);
  // Returns the publish's sequence number on a channel in confirm mode.
  uint64_t publish(uint16_t channel, const std::string& exchange, const std::string& routing_key, bool mandatory,
                   const Properties& properties, std::string_view body);

  bool is_open() const;
  bool blocked() const;       // connection.blocked: the broker wants publishers to wait
  std::string blocked_reason() const;
  core::Error error() const;  // why it ended
  // Returns once the connection ended.
  boost::asio::awaitable<void> wait_closed();
  // connection.close, then the socket; returns within about a second.
  boost::asio::awaitable<void> close();
  const Endpoint& endpoint() const;

  struct Impl;

 private:
  explicit Connection(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::amqp
