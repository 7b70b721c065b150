#pragma once
// AMQP 0-9-1 above the frames, still without I/O: method ids, the methods
// a client sends, and the Assembler that turns incoming frames into whole
// methods and contents (a method, its header, its bodies), refusing any
// frame out of place. Pure, so tests/fuzz/fuzz_amqp_frame.cc drives it with
// the frame decoder.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "amqp/wire.h"
#include "core/error.h"

namespace sluice::amqp {

// (class id, method id) as one number: class << 16 | method.
constexpr uint32_t method_id(uint16_t cls, uint16_t method) { return uint32_t{cls} << 16 | method; }

namespace m {
inline constexpr uint32_t connection_start = method_id(10, 10), connection_start_ok = method_id(10, 11),
                          connection_secure = method_id(10, 20), connection_tune = method_id(10, 30),
                          connection_tune_ok = method_id(10, 31), connection_open = method_id(10, 40),
                          connection_open_ok = method_id(10, 41), connection_close = method_id(10, 50),
                          connection_close_ok = method_id(10, 51), connection_blocked = method_id(10, 60),
                          connection_unblocked = method_id(10, 61);
inline constexpr uint32_t channel_open = method_id(20, 10), channel_open_ok = method_id(20, 11),
                          channel_flow = method_id(20, 20), channel_flow_ok = method_id(20, 21),
                          channel_close = method_id(20, 40), channel_close_ok = method_id(20, 41);
inline constexpr uint32_t queue_declare = method_id(50, 10), queue_declare_ok = method_id(50, 11),
                          queue_bind = method_id(50, 20), queue_bind_ok = method_id(50, 21);
inline constexpr uint32_t basic_qos = method_id(60, 10), basic_qos_ok = method_id(60, 11),
                          basic_consume = method_id(60, 20), basic_consume_ok = method_id(60, 21),
                          basic_cancel = method_id(60, 30), basic_cancel_ok = method_id(60, 31),
                          basic_publish = method_id(60, 40), basic_return = method_id(60, 50),
                          basic_deliver = method_id(60, 60), basic_get_ok = method_id(60, 71),
                          basic_ack = method_id(60, 80), basic_reject = method_id(60, 90),
                          basic_nack = method_id(60, 120);
inline constexpr uint32_t confirm_select = method_id(85, 10), confirm_select_ok = method_id(85, 11);
}  // namespace m

// "basic.deliver (60,60)"-style names for errors and logs.
std::string method_name(uint32_t id);

// One method frame's payload: the id and its arguments.
std::string method_payload(uint32_t id, const std::function<void(Encoder&)>& args);
inline std::string method_payload(uint32_t id) {
  return method_payload(id, [](Encoder&) {});
}

// A method that is not followed by content.
struct Method {
  uint16_t channel = 0;
  uint32_t id = 0;
  std::string args;  // read with Decoder
};
// basic.deliver / basic.return / basic.get-ok with what followed it.
struct Content {
  uint16_t channel = 0;
  uint32_t id = 0;
  std::string args;
  Properties properties;
  std::string body;
};
struct Heartbeat {};
using Inbound = std::variant<Method, Content, Heartbeat>;

// Frames in, whole methods and contents out. Errc::invalid_payload for a
// frame out of place (a header with no method before it, a method inside
// a content, bodies longer than the header said, a body over max_body) and
// for an unknown frame type; the connection is then unusable.
class Assembler {
 public:
  explicit Assembler(size_t max_body = 128 << 20) : max_body_(max_body) {}
  core::Result<std::optional<Inbound>> feed(Frame frame);

 private:
  struct Partial {
    Content content;
    uint64_t size = 0;
    bool have_header = false;
  };
  size_t max_body_;
  std::map<uint16_t, Partial> partial_;  // by channel
};

// The AMQP reply code's name, e.g. 404 -> "NOT_FOUND".
std::string_view reply_code_name(uint16_t code);

}  // namespace sluice::amqp
