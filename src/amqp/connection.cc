#include "amqp/connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <atomic>
#include <map>
#include <mutex>

#include "amqp/protocol.h"
#include "async/spawn.h"
#include "logging/log.h"
#include "net/tls_client.h"

namespace sluice::amqp {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Signal = asio::experimental::concurrent_channel<void(error_code)>;

core::Result<Endpoint> parse_url(const std::string& url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return core::fail(core::Errc::invalid_payload, fmt::format("'{}' is not a URL", url));
  if (u->scheme() != "amqp" && u->scheme() != "amqps")
    return core::fail(core::Errc::invalid_payload, fmt::format("'{}' is not an amqp:// or amqps:// URL", u->scheme()));
  Endpoint e;
  e.tls = u->scheme() == "amqps";
  if (e.tls) e.port = "5671";
  e.host = u->host();
  if (e.host.empty()) return core::fail(core::Errc::invalid_payload, "the AMQP URL has no host");
  if (!u->port().empty()) e.port = u->port();
  if (u->has_userinfo()) {
    e.user = u->user();
    e.password = u->password();
  }
  // The path is one segment, the vhost, percent-encoded ("%2f" is "/").
  const std::string path = u->path();
  if (path.size() > 1) {
    e.vhost = path.substr(1);
    if (e.vhost.find('/') != std::string::npos)
      return core::fail(core::Errc::invalid_payload,
                        fmt::format("'{}': a vhost containing '/' is written %2F", std::string(u->encoded_path())));
  }
  return e;
}

namespace {

struct Channel {
  ChannelEvents events;
  asio::experimental::concurrent_channel<void(error_code, Method)> replies;
  bool confirm = false;
  uint64_t next_seq = 1;
  bool open = true;
  std::string closed_why;
  explicit Channel(asio::io_context& io, ChannelEvents e) : events(std::move(e)), replies(io, 1) {}
};

int64_t now_ns() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

std::string describe_close(std::string_view who, const std::string& args) {
  Decoder d(args);
  const uint16_t code = d.u16();
  const std::string text = d.shortstr();
  const uint16_t cls = d.u16();
  const uint16_t method = d.u16();
  std::string s = fmt::format("{}: {} {}", who, code, text);
  if (cls != 0) s += fmt::format(" (in reply to {})", method_name(method_id(cls, method)));
  return s;
}

Table client_properties(const std::string& name) {
  Table capabilities = {
      {"publisher_confirms", Field::of(true)},   {"exchange_exchange_bindings", Field::of(true)},
      {"basic.nack", Field::of(true)},           {"consumer_cancel_notify", Field::of(true)},
      {"connection.blocked", Field::of(true)},   {"authentication_failure_close", Field::of(true)},
      {"per_consumer_qos", Field::of(true)},
  };
  return {
      {"product", Field::of(std::string("sluice"))},
      {"platform", Field::of(std::string("C++ / Boost.Asio"))},
      {"capabilities", Field{.kind = Field::Kind::table, .table = std::move(capabilities)}},
      {"connection_name", Field::of(name)},
  };
}

}  // namespace

struct Connection::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& i, ConnectOptions o, Endpoint e)
      : io(i), options(std::move(o)), endpoint(std::move(e)), strand(asio::make_strand(i)),
        assembler(options.max_body), wake(i, 1), ended(i, 0) {
    if (endpoint.tls) {
      tls_context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
      net::configure_tls_client(*tls_context, options.tls_verify, options.tls_ca_file);
    }
  }

  asio::io_context& io;
  ConnectOptions options;
  Endpoint endpoint;
  asio::strand<asio::io_context::executor_type> strand;
  std::unique_ptr<asio::ssl::context> tls_context;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  FrameDecoder frames;
  Assembler assembler;
  std::string buffer = std::string(128 * 1024, '\0');
  uint16_t channel_max = 2047;
  size_t frame_max = 131072;
  std::chrono::seconds heartbeat{0};
  std::atomic<int64_t> last_read_ns{0}, last_write_ns{0};
  std::map<std::shared_ptr<Channel>, std::vector<Delivery>> arrived;  // this read's, by channel (the reader's own)

  mutable std::mutex mu;  // everything below
  std::string out;        // frames for the writer
  std::map<uint16_t, std::shared_ptr<Channel>> channels;
  uint16_t next_channel = 1;
  bool open = true;
  core::Error error;
  bool blocked = false;
  std::string blocked_reason;
  Signal wake;   // the writer's: something is in `out`
  Signal ended;  // closed when the connection ends

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  std::string where() const { return fmt::format("amqp {}:{}", endpoint.host, endpoint.port); }

  // --- the socket (on the strand once the loops run) ---

  asio::awaitable<error_code> write_raw(const std::string& bytes) {
    std::tuple<error_code, size_t> r;  // no co_await inside ?: (GCC 12)
    if (tls)
      r = co_await asio::async_write(*tls, asio::buffer(bytes), asio::as_tuple(use_awaitable));
    else
      r = co_await asio::async_write(*plain, asio::buffer(bytes), asio::as_tuple(use_awaitable));
    last_write_ns = now_ns();
    co_return std::get<0>(r);
  }

  asio::awaitable<std::tuple<error_code, size_t>> read_raw() {
    std::tuple<error_code, size_t> r;
    if (tls)
      r = co_await tls->async_read_some(asio::buffer(buffer), asio::as_tuple(use_awaitable));
    else
      r = co_await plain->async_read_some(asio::buffer(buffer), asio::as_tuple(use_awaitable));
    last_read_ns = now_ns();
    co_return r;
  }

  core::Error lost(const error_code& ec, std::string_view during) const {
    if (ec == beast::error::timeout)
      return {core::Errc::timeout, fmt::format("{}: no answer in time during {}", where(), during)};
    return {core::Errc::unavailable, fmt::format("{}: connection lost during {} ({})", where(), during, ec.message())};
  }

  // --- the handshake: sequential, before the loops start ---

  asio::awaitable<core::Result<Inbound>> read_inbound(std::string_view during) {
    for (;;) {
      auto f = frames.next();
      if (!f) co_return core::fail(core::Errc::invalid_payload, fmt::format("{}: {}", where(), f.error().detail));
      if (*f) {
        auto in = assembler.feed(std::move(**f));
        if (!in) co_return core::fail(core::Errc::invalid_payload, fmt::format("{}: {}", where(), in.error().detail));
        if (*in) co_return std::move(**in);
        continue;
      }
      auto [ec, n] = co_await read_raw();
      if (ec) co_return std::unexpected(lost(ec, during));
      frames.feed(std::string_view(buffer.data(), n));
    }
  }

  // The next method on channel 0, which must be `expected`; the broker's
  // connection.close is its refusal.
  asio::awaitable<core::Result<Method>> expect(uint32_t expected, std::string_view during) {
    for (;;) {
      auto in = co_await read_inbound(during);
      if (!in) co_return std::unexpected(in.error());
      if (std::holds_alternative<Heartbeat>(*in)) continue;
      auto* method = std::get_if<Method>(&*in);
      if (method && method->id == m::connection_close)
        co_return core::fail(core::Errc::io_error, describe_close(where() + " refused the connection", method->args));
      if (!method || method->id != expected || method->channel != 0)
        co_return core::fail(core::Errc::invalid_payload,
                             fmt::format("{}: expected {} during {}, got something else", where(),
                                         method_name(expected), during));
      co_return std::move(*method);
    }
  }

  asio::awaitable<core::Result<void>> send_now(uint32_t id, const std::function<void(Encoder&)>& args,
                                               std::string_view during) {
    std::string frame;
    append_frame(frame, FrameType::method, 0, method_payload(id, args));
    if (auto ec = co_await write_raw(frame)) co_return std::unexpected(lost(ec, during));
    co_return core::Result<void>{};
  }

  asio::awaitable<core::Result<void>> handshake() {
    tcp::resolver resolver(io);
    auto [rec, endpoints] = co_await resolver.async_resolve(endpoint.host, endpoint.port, asio::as_tuple(use_awaitable));
    if (rec) co_return core::fail(core::Errc::unavailable, fmt::format("{}: cannot resolve ({})", where(), rec.message()));
    if (tls_context)
      tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, *tls_context);
    else
      plain = std::make_unique<beast::tcp_stream>(io);
    lowest().expires_after(options.connect_timeout);
    auto [cec, ep] = co_await lowest().async_connect(endpoints, asio::as_tuple(use_awaitable));
    if (cec) co_return std::unexpected(lost(cec, "connect"));
    lowest().socket().set_option(tcp::no_delay(true));
    if (tls) {
      const auto hec = co_await net::tls_client_handshake(*tls, endpoint.host, options.tls_verify);
      if (hec) co_return core::fail(core::Errc::unavailable, fmt::format("{}: TLS handshake failed ({})", where(), hec.message()));
    }
    if (auto ec = co_await write_raw(std::string(kProtocolHeader))) co_return std::unexpected(lost(ec, "the protocol header"));

    auto start = co_await expect(m::connection_start, "connection.start");
    if (!start) co_return std::unexpected(start.error());
    Decoder sd(start->args);
    sd.u8();
    sd.u8();
    sd.table();
    const std::string mechanisms = sd.longstr();
    if (!sd.ok()) co_return core::fail(core::Errc::invalid_payload, where() + ": connection.start: " + sd.error());
    if ((" " + mechanisms + " ").find(" PLAIN ") == std::string::npos)
      co_return core::fail(core::Errc::io_error,
                           fmt::format("{}: the broker offers no PLAIN login (only: {})", where(), mechanisms));
    const std::string response = std::string(1, '\0') + endpoint.user + std::string(1, '\0') + endpoint.password;
    auto sent = co_await send_now(m::connection_start_ok, [&](Encoder& e) {
      e.table(client_properties(options.name)).shortstr("PLAIN").longstr(response).shortstr("en_US");
    }, "connection.start-ok");
    if (!sent) co_return sent;

    auto tune = co_await expect(m::connection_tune, "login");
    if (!tune) co_return std::unexpected(tune.error());
    Decoder td(tune->args);
    const uint16_t server_channels = td.u16();
    const uint32_t server_frame = td.u32();
    const uint16_t server_heartbeat = td.u16();
    if (!td.ok()) co_return core::fail(core::Errc::invalid_payload, where() + ": connection.tune: " + td.error());
    if (server_channels != 0) channel_max = std::min<uint16_t>(channel_max, server_channels);
    if (server_frame != 0) frame_max = std::min<size_t>(options.frame_max, server_frame);
    else frame_max = options.frame_max;
    if (frame_max < 4096) co_return core::fail(core::Errc::invalid_payload, fmt::format("{}: frame_max {} is below AMQP's 4096", where(), frame_max));
    const auto ours = options.heartbeat.count();
    heartbeat = std::chrono::seconds(ours == 0 || server_heartbeat == 0 ? std::max<int64_t>(ours, server_heartbeat)
                                                                        : std::min<int64_t>(ours, server_heartbeat));
    frames.set_frame_max(frame_max);
    sent = co_await send_now(m::connection_tune_ok, [&](Encoder& e) {
      e.u16(channel_max).u32(static_cast<uint32_t>(frame_max)).u16(static_cast<uint16_t>(heartbeat.count()));
    }, "connection.tune-ok");
    if (!sent) co_return sent;
    sent = co_await send_now(m::connection_open, [&](Encoder& e) { e.shortstr(endpoint.vhost).shortstr("").u8(0); },
                             "connection.open");
    if (!sent) co_return sent;
    auto opened = co_await expect(m::connection_open_ok, fmt::format("opening vhost '{}'", endpoint.vhost));
    if (!opened) co_return std::unexpected(opened.error());
    lowest().expires_never();
    co_return core::Result<void>{};
  }

  // --- the loops, on the strand ---

  void start_loops() {
    auto self = shared_from_this();
    async::spawn(strand, [self] { return self->read_loop(); });
    async::spawn(strand, [self] { return self->write_loop(); });
    if (heartbeat.count() > 0) async::spawn(strand, [self] { return self->heartbeat_loop(); });
  }

  // Everything one read brought is dispatched before the next read; the
  // deliveries among it go to their channels together.
  asio::awaitable<void> read_loop() {
    for (;;) {
      for (;;) {
        auto f = frames.next();
        if (!f) co_return end({core::Errc::invalid_payload, fmt::format("{}: {}", where(), f.error().detail)});
        if (!*f) break;
        auto in = assembler.feed(std::move(**f));
        if (!in) co_return end({core::Errc::invalid_payload, fmt::format("{}: {}", where(), in.error().detail)});
        if (*in && !dispatch(std::move(**in))) co_return;
      }
      hand_over_deliveries();
      auto [ec, n] = co_await read_raw();
      if (ec) co_return end(lost(ec, "reading"));
      frames.feed(std::string_view(buffer.data(), n));
    }
  }

  void hand_over_deliveries() {
    for (auto& [ch, batch] : arrived)
      if (!batch.empty() && ch->events.deliveries) ch->events.deliveries(std::exchange(batch, {}));
    arrived.clear();
  }

  asio::awaitable<void> write_loop() {
    std::string batch;
    for (;;) {
      auto [ec] = co_await wake.async_receive(asio::as_tuple(use_awaitable));
      if (ec) co_return;
      {
        std::lock_guard lock(mu);
        batch.swap(out);
        out.clear();
      }
      if (batch.empty()) continue;
      if (auto wec = co_await write_raw(batch)) {
        end(lost(wec, "writing"));
        co_return;
      }
      batch.clear();
    }
  }

  // Sends a heartbeat when nothing else went out for half the interval; two
  // intervals without a byte from the broker end the connection.
  asio::awaitable<void> heartbeat_loop() {
    asio::steady_timer timer(strand);
    const int64_t interval = std::chrono::nanoseconds(heartbeat).count();
    for (;;) {
      timer.expires_after(std::chrono::nanoseconds(interval / 2));
      co_await timer.async_wait(asio::as_tuple(use_awaitable));
      if (!is_open()) co_return;
      const int64_t now = now_ns();
      if (now - last_read_ns > 2 * interval) {
        end({core::Errc::unavailable,
             fmt::format("{}: no heartbeat from the broker in {} s", where(), 2 * heartbeat.count())});
        co_return;
      }
      if (now - last_write_ns >= interval / 2) {
        std::string frame;
        append_frame(frame, FrameType::heartbeat, 0, {});
        send(std::move(frame));
      }
    }
  }

  // Queues bytes for the writer; dropped once the connection ended.
  void send(std::string bytes) {
    {
      std::lock_guard lock(mu);
      if (!open) return;
      out += bytes;
    }
    wake.try_send(error_code{});
  }
  void send_method(uint16_t channel, uint32_t id, const std::function<void(Encoder&)>& args) {
    std::string frame;
    append_frame(frame, FrameType::method, channel, method_payload(id, args));
    send(std::move(frame));
  }

  std::shared_ptr<Channel> channel(uint16_t n) {
    std::lock_guard lock(mu);
    auto it = channels.find(n);
    return it == channels.end() ? nullptr : it->second;
  }

  // A frame out of place or a method we do not know: the connection is no
  // good, and the broker hears why.
  bool protocol_error(uint16_t code, std::string why) {
    send_method(0, m::connection_close, [&](Encoder& e) { e.u16(code).shortstr(why).u16(0).u16(0); });
    end({core::Errc::invalid_payload, fmt::format("{}: {}", where(), why)});
    return false;
  }

  // Returns false once the connection ended.
  bool dispatch(Inbound in) {
    if (std::holds_alternative<Heartbeat>(in)) return true;
    if (auto* c = std::get_if<Content>(&in)) return on_content(std::move(*c));
    Method& method = std::get<Method>(in);
    if (method.channel == 0) return on_connection_method(method);
    auto ch = channel(method.channel);
    if (!ch) {
      if (method.id == m::channel_close_ok) return true;
      return protocol_error(504, fmt::format("{} for channel {}, which is not open", method_name(method.id), method.channel));
    }
    Decoder d(method.args);
    switch (method.id) {
      case m::basic_ack:
      case m::basic_nack: {
        const uint64_t tag = d.u64();
        const bool multiple = d.bit(0, d.u8());
        if (!d.ok()) return protocol_error(502, method_name(method.id) + ": " + d.error());
        if (ch->events.confirm) ch->events.confirm(tag, multiple, method.id == m::basic_ack);
        return true;
      }
      case m::channel_close: {
        const std::string why = describe_close(fmt::format("channel {} closed by the broker", method.channel), method.args);
        send_method(method.channel, m::channel_close_ok, [](Encoder&) {});
        close_channel(method.channel, *ch, why);
        ch->replies.try_send(error_code{}, std::move(method));  // a method waiting for its -ok hears why
        return true;
      }
      case m::basic_cancel: {
        const std::string why = fmt::format("the broker cancelled consumer '{}' on channel {} (the queue was deleted?)",
                                            d.shortstr(), method.channel);
        send_method(method.channel, m::channel_close, [&](Encoder& e) { e.u16(200).shortstr("consumer cancelled").u16(0).u16(0); });
        close_channel(method.channel, *ch, why);
        return true;
      }
      case m::channel_flow: {
        const uint8_t active = d.u8();
        send_method(method.channel, m::channel_flow_ok, [&](Encoder& e) { e.u8(active); });
        return true;
      }
      default:
        if (!ch->replies.try_send(error_code{}, std::move(method)))
          return protocol_error(505, fmt::format("an unexpected {} on channel {}", method_name(method.id), method.channel));
        return true;
    }
  }

  void close_channel(uint16_t n, Channel& ch, const std::string& why) {
    {
      std::lock_guard lock(mu);
      ch.open = false;
      ch.closed_why = why;
      channels.erase(n);
    }
    logging::warn("{}", why);
    if (ch.events.closed) ch.events.closed(core::Error{core::Errc::io_error, why});
  }

  bool on_connection_method(const Method& method) {
    Decoder d(method.args);
    switch (method.id) {
      case m::connection_close:
        send_method(0, m::connection_close_ok, [](Encoder&) {});
        end({core::Errc::unavailable, describe_close(where() + " closed the connection", method.args)});
        return false;
      case m::connection_close_ok:
        end({core::Errc::closed, where() + ": closed"});
        return false;
      case m::connection_blocked: {
        const std::string reason = d.shortstr();
        logging::warn("{}: the broker blocks publishers ({})", where(), reason);
        std::lock_guard lock(mu);
        blocked = true;
        blocked_reason = reason;
        return true;
      }
      case m::connection_unblocked: {
        logging::info("{}: the broker takes publishes again", where());
        std::lock_guard lock(mu);
        blocked = false;
        return true;
      }
      default:
        return protocol_error(503, fmt::format("an unexpected {} on channel 0", method_name(method.id)));
    }
  }

  bool on_content(Content c) {
    auto ch = channel(c.channel);
    if (!ch) return protocol_error(504, fmt::format("{} for channel {}, which is not open", method_name(c.id), c.channel));
    Decoder d(c.args);
    if (c.id == m::basic_deliver) {
      Delivery del{.channel = c.channel};
      d.shortstr();  // consumer tag: one consumer per channel
      del.tag = d.u64();
      del.redelivered = d.bit(0, d.u8());
      del.exchange = d.shortstr();
      del.routing_key = d.shortstr();
      if (!d.ok()) return protocol_error(502, "basic.deliver: " + d.error());
      del.properties = std::move(c.properties);
      del.body = std::move(c.body);
      arrived[ch].push_back(std::move(del));
      return true;
    }
    if (c.id == m::basic_return) {
      Returned r;
      r.code = d.u16();
      r.text = d.shortstr();
      r.exchange = d.shortstr();
      r.routing_key = d.shortstr();
      if (!d.ok()) return protocol_error(502, "basic.return: " + d.error());
      r.properties = std::move(c.properties);
      r.body = std::move(c.body);
      if (ch->events.returned) ch->events.returned(std::move(r));
      return true;
    }
    return protocol_error(505, fmt::format("an unexpected {} on channel {}", method_name(c.id), c.channel));
  }

  // The connection is over: every channel and waiter hears why. Idempotent.
  void end(core::Error why) {
    std::map<uint16_t, std::shared_ptr<Channel>> gone;
    {
      std::lock_guard lock(mu);
      if (!open) return;
      open = false;
      error = why;
      gone.swap(channels);
      out.clear();
    }
    if (!why.is(core::Errc::closed)) logging::warn("{}", why.detail);
    error_code ignored;
    if (plain || tls) lowest().socket().close(ignored);
    for (auto& [n, ch] : gone) {
      {
        std::lock_guard lock(mu);
        ch->open = false;
        ch->closed_why = why.detail;
      }
      ch->replies.close();
      if (ch->events.closed) ch->events.closed(why);
    }
    wake.close();
    ended.close();
  }

  bool is_open() const {
    std::lock_guard lock(mu);
    return open;
  }

  // A synchronous method: sent, then its -ok awaited.
  asio::awaitable<core::Result<Method>> call(uint16_t n, uint32_t id, const std::function<void(Encoder&)>& args,
                                             uint32_t reply) {
    auto ch = channel(n);
    if (!ch) co_return core::fail(core::Errc::unavailable, fmt::format("{}: channel {} is not open", where(), n));
    send_method(n, id, args);
    auto [ec, got] = co_await ch->replies.async_receive(asio::as_tuple(use_awaitable));
    if (ec) {
      std::lock_guard lock(mu);
      co_return core::fail(core::Errc::unavailable, ch->closed_why.empty() ? error.detail : ch->closed_why);
    }
    if (got.id == m::channel_close)
      co_return core::fail(core::Errc::io_error, describe_close(fmt::format("{} refused {}", where(), method_name(id)), got.args));
    if (got.id != reply)
      co_return core::fail(core::Errc::invalid_payload,
                           fmt::format("{}: {} answered with {}", where(), method_name(id), method_name(got.id)));
    co_return got;
  }
};

Connection::Connection(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Connection::~Connection() {
  auto impl = impl_;
  asio::post(impl->strand, [impl] { impl->end({core::Errc::closed, impl->where() + ": dropped"}); });
}

asio::awaitable<core::Result<std::shared_ptr<Connection>>> Connection::open(asio::io_context& io, ConnectOptions options) {
  auto endpoint = parse_url(options.url);
  if (!endpoint) co_return std::unexpected(endpoint.error());
  auto impl = std::make_shared<Impl>(io, std::move(options), std::move(*endpoint));
  auto done = co_await impl->handshake();
  if (!done) {
    error_code ignored;
    if (impl->plain || impl->tls) impl->lowest().socket().close(ignored);
    co_return std::unexpected(done.error());
  }
  impl->last_read_ns = impl->last_write_ns = now_ns();
  impl->start_loops();
  co_return std::shared_ptr<Connection>(new Connection(impl));
}

asio::awaitable<core::Result<uint16_t>> Connection::open_channel(ChannelEvents events) {
  uint16_t n = 0;
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->open) co_return core::fail(core::Errc::unavailable, impl_->error.detail);
    for (uint16_t tries = 0; tries < impl_->channel_max && n == 0; ++tries) {
      const uint16_t candidate = impl_->next_channel;
      impl_->next_channel = candidate >= impl_->channel_max ? 1 : candidate + 1;
      if (!impl_->channels.contains(candidate)) n = candidate;
    }
    if (n == 0)
      co_return core::fail(core::Errc::unavailable, fmt::format("{}: all {} channels are open", impl_->where(), impl_->channel_max));
    impl_->channels[n] = std::make_shared<Channel>(impl_->io, std::move(events));
  }
  auto ok = co_await impl_->call(n, m::channel_open, [](Encoder& e) { e.shortstr(""); }, m::channel_open_ok);
  if (!ok) co_return std::unexpected(ok.error());
  co_return n;
}

asio::awaitable<core::Result<void>> Connection::qos(uint16_t channel, uint16_t prefetch) {
  auto ok = co_await impl_->call(channel, m::basic_qos, [&](Encoder& e) { e.u32(0).u16(prefetch).u8(0); }, m::basic_qos_ok);
  if (!ok) co_return std::unexpected(ok.error());
  co_return core::Result<void>{};
}

asio::awaitable<core::Result<QueueInfo>> Connection::declare_queue(uint16_t channel, const std::string& name,
                                                                   const QueueOptions& o) {
  auto ok = co_await impl_->call(channel, m::queue_declare, [&](Encoder& e) {
    e.u16(0).shortstr(name).bits({o.passive, o.durable, o.exclusive, o.auto_delete, false}).table(o.arguments);
  }, m::queue_declare_ok);
  if (!ok) co_return std::unexpected(ok.error());
  Decoder d(ok->args);
  QueueInfo info;
  info.name = d.shortstr();
  info.messages = d.u32();
  info.consumers = d.u32();
  if (!d.ok()) co_return core::fail(core::Errc::invalid_payload, "queue.declare-ok: " + d.error());
  co_return info;
}

asio::awaitable<core::Result<void>> Connection::bind_queue(uint16_t channel, const std::string& queue,
                                                           const std::string& exchange, const std::string& routing_key,
                                                           const Table& arguments) {
  auto ok = co_await impl_->call(channel, m::queue_bind, [&](Encoder& e) {
    e.u16(0).shortstr(queue).shortstr(exchange).shortstr(routing_key).u8(0).table(arguments);
  }, m::queue_bind_ok);
  if (!ok) co_return std::unexpected(ok.error());
  co_return core::Result<void>{};
}

asio::awaitable<core::Result<std::string>> Connection::consume(uint16_t channel, const std::string& queue,
                                                               const Table& arguments) {
  auto ok = co_await impl_->call(channel, m::basic_consume, [&](Encoder& e) {
    // no-local, no-ack (false: manual acks), exclusive, no-wait
    e.u16(0).shortstr(queue).shortstr("").bits({false, false, false, false}).table(arguments);
  }, m::basic_consume_ok);
  if (!ok) co_return std::unexpected(ok.error());
  Decoder d(ok->args);
  co_return d.shortstr();
}

asio::awaitable<core::Result<void>> Connection::confirm_select(uint16_t channel) {
  auto ok = co_await impl_->call(channel, m::confirm_select, [](Encoder& e) { e.u8(0); }, m::confirm_select_ok);
  if (!ok) co_return std::unexpected(ok.error());
  if (auto ch = impl_->channel(channel)) {
    std::lock_guard lock(impl_->mu);
    ch->confirm = true;
    ch->next_seq = 1;
  }
  co_return core::Result<void>{};
}

void Connection::ack(uint16_t channel, uint64_t tag, bool multiple) {
  impl_->send_method(channel, m::basic_ack, [&](Encoder& e) { e.u64(tag).bits({multiple}); });
}

void Connection::nack(uint16_t channel, uint64_t tag, bool multiple, bool requeue) {
  impl_->send_method(channel, m::basic_nack, [&](Encoder& e) { e.u64(tag).bits({multiple, requeue}); });
}

uint64_t Connection::publish(uint16_t channel, const std::string& exchange, const std::string& routing_key,
                             bool mandatory, const Properties& properties, std::string_view body) {
  std::string frames;
  append_frame(frames, FrameType::method, channel, method_payload(m::basic_publish, [&](Encoder& e) {
    e.u16(0).shortstr(exchange).shortstr(routing_key).bits({mandatory, false});
  }));
  std::string header;
  Encoder(header).u16(60).u16(0).u64(body.size()).properties(properties);
  append_frame(frames, FrameType::header, channel, header);
  const size_t chunk = impl_->frame_max - kFrameOverhead;
  for (size_t at = 0; at < body.size(); at += chunk)
    append_frame(frames, FrameType::body, channel, body.substr(at, chunk));
  uint64_t seq = 0;
  {
    // The number and the bytes under one lock: the broker counts in write order.
    std::lock_guard lock(impl_->mu);
    if (!impl_->open) return 0;
    auto it = impl_->channels.find(channel);
    if (it != impl_->channels.end() && it->second->confirm) seq = it->second->next_seq++;
    impl_->out += frames;
  }
  impl_->wake.try_send(error_code{});
  return seq;
}

bool Connection::is_open() const { return impl_->is_open(); }

bool Connection::blocked() const {
  std::lock_guard lock(impl_->mu);
  return impl_->blocked;
}

std::string Connection::blocked_reason() const {
  std::lock_guard lock(impl_->mu);
  return impl_->blocked_reason;
}

core::Error Connection::error() const {
  std::lock_guard lock(impl_->mu);
  return impl_->error;
}

const Endpoint& Connection::endpoint() const { return impl_->endpoint; }

asio::awaitable<void> Connection::wait_closed() {
  auto impl = impl_;
  co_await impl->ended.async_receive(asio::as_tuple(use_awaitable));
}

asio::awaitable<void> Connection::close() {
  auto impl = impl_;
  if (!impl->is_open()) co_return;
  impl->send_method(0, m::connection_close, [](Encoder& e) { e.u16(200).shortstr("sluice is closing").u16(0).u16(0); });
  asio::steady_timer timer(impl->io);
  for (int i = 0; i < 100 && impl->is_open(); ++i) {  // close-ok, within a second
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(asio::as_tuple(use_awaitable));
  }
  asio::post(impl->strand, [impl] { impl->end({core::Errc::closed, impl->where() + ": closed"}); });
  co_await impl->ended.async_receive(asio::as_tuple(use_awaitable));
}

}  // namespace sluice::amqp
