#include "amqp/protocol.h"

#include <fmt/format.h>

namespace sluice::amqp {
namespace {

bool carries_content(uint32_t id) {
  return id == m::basic_deliver || id == m::basic_return || id == m::basic_get_ok || id == m::basic_publish;
}

}  // namespace

std::string method_name(uint32_t id) {
  static const std::map<uint32_t, std::string_view> names = {
      {m::connection_start, "connection.start"},   {m::connection_start_ok, "connection.start-ok"},
      {m::connection_secure, "connection.secure"}, {m::connection_tune, "connection.tune"},
      {m::connection_tune_ok, "connection.tune-ok"}, {m::connection_open, "connection.open"},
      {m::connection_open_ok, "connection.open-ok"}, {m::connection_close, "connection.close"},
      {m::connection_close_ok, "connection.close-ok"}, {m::connection_blocked, "connection.blocked"},
      {m::connection_unblocked, "connection.unblocked"}, {m::channel_open, "channel.open"},
      {m::channel_open_ok, "channel.open-ok"},     {m::channel_flow, "channel.flow"},
      {m::channel_close, "channel.close"},         {m::channel_close_ok, "channel.close-ok"},
      {m::queue_declare, "queue.declare"},         {m::queue_declare_ok, "queue.declare-ok"},
      {m::queue_bind, "queue.bind"},               {m::queue_bind_ok, "queue.bind-ok"},
      {m::basic_qos, "basic.qos"},                 {m::basic_qos_ok, "basic.qos-ok"},
      {m::basic_consume, "basic.consume"},         {m::basic_consume_ok, "basic.consume-ok"},
      {m::basic_cancel, "basic.cancel"},           {m::basic_cancel_ok, "basic.cancel-ok"},
      {m::basic_publish, "basic.publish"},         {m::basic_return, "basic.return"},
      {m::basic_deliver, "basic.deliver"},         {m::basic_get_ok, "basic.get-ok"},
      {m::basic_ack, "basic.ack"},                 {m::basic_reject, "basic.reject"},
      {m::basic_nack, "basic.nack"},               {m::confirm_select, "confirm.select"},
      {m::confirm_select_ok, "confirm.select-ok"},
  };
  auto it = names.find(id);
  return fmt::format("{} ({},{})", it == names.end() ? "unknown method" : it->second, id >> 16, id & 0xffff);
}

std::string method_payload(uint32_t id, const std::function<void(Encoder&)>& args) {
  std::string out;
  Encoder e(out);
  e.u16(static_cast<uint16_t>(id >> 16)).u16(static_cast<uint16_t>(id));
  args(e);
  return out;
}

core::Result<std::optional<Inbound>> Assembler::feed(Frame frame) {
  auto bad = [&](std::string why) { return core::fail(core::Errc::invalid_payload, std::move(why)); };
  const uint16_t ch = frame.channel;
  switch (frame.type) {
    case FrameType::heartbeat:
      if (ch != 0) return bad(fmt::format("a heartbeat on channel {}", ch));
      return Heartbeat{};
    case FrameType::method: {
      if (partial_.contains(ch)) return bad(fmt::format("a method inside a content on channel {}", ch));
      Decoder d(frame.payload);
      const uint16_t cls = d.u16();
      const uint16_t method = d.u16();
      if (!d.ok()) return bad("a method frame too short for its ids");
      const uint32_t id = method_id(cls, method);
      std::string args = std::move(frame.payload);  // in place: no copy per method
      args.erase(0, 4);
      if (!carries_content(id)) return Method{.channel = ch, .id = id, .args = std::move(args)};
      if (ch == 0) return bad(method_name(id) + " on channel 0");
      partial_[ch].content = Content{.channel = ch, .id = id, .args = std::move(args)};
      return std::nullopt;
    }
    case FrameType::header: {
      auto it = partial_.find(ch);
      if (it == partial_.end() || it->second.have_header)
        return bad(fmt::format("a content header with no method before it on channel {}", ch));
      Decoder d(frame.payload);
      const uint16_t cls = d.u16();
      d.u16();  // weight, always 0
      const uint64_t size = d.u64();
      Properties props = d.properties();
      if (!d.ok()) return bad("content header: " + d.error());
      if (cls != 60) return bad(fmt::format("a content header of class {}", cls));
      if (size > max_body_) return bad(fmt::format("a message body of {} bytes exceeds the {} byte bound", size, max_body_));
      Partial& p = it->second;
      p.have_header = true;
      p.size = size;
      p.content.properties = std::move(props);
      break;
    }
    case FrameType::body: {
      auto it = partial_.find(ch);
      if (it == partial_.end() || !it->second.have_header)
        return bad(fmt::format("a content body with no header before it on channel {}", ch));
      Partial& p = it->second;
      if (p.content.body.size() + frame.payload.size() > p.size)
        return bad(fmt::format("content bodies longer than the {} bytes their header announced", p.size));
      if (p.content.body.empty())
        p.content.body = std::move(frame.payload);  // the usual one-frame body: taken, not copied
      else
        p.content.body += frame.payload;
      break;
    }
    default:
      return bad(fmt::format("unknown frame type {}", static_cast<int>(frame.type)));
  }
  auto it = partial_.find(ch);
  if (it->second.content.body.size() < it->second.size) return std::nullopt;
  Content done = std::move(it->second.content);
  partial_.erase(it);
  return done;
}

std::string_view reply_code_name(uint16_t code) {
  switch (code) {
    case 200: return "REPLY_SUCCESS";
    case 311: return "CONTENT_TOO_LARGE";
    case 312: return "NO_ROUTE";
    case 313: return "NO_CONSUMERS";
    case 320: return "CONNECTION_FORCED";
    case 402: return "INVALID_PATH";
    case 403: return "ACCESS_REFUSED";
    case 404: return "NOT_FOUND";
    case 405: return "RESOURCE_LOCKED";
    case 406: return "PRECONDITION_FAILED";
    case 501: return "FRAME_ERROR";
    case 502: return "SYNTAX_ERROR";
    case 503: return "COMMAND_INVALID";
    case 504: return "CHANNEL_ERROR";
    case 505: return "UNEXPECTED_FRAME";
    case 506: return "RESOURCE_ERROR";
    case 530: return "NOT_ALLOWED";
    case 540: return "NOT_IMPLEMENTED";
    case 541: return "INTERNAL_ERROR";
    default: return "UNKNOWN";
  }
}

}  // namespace sluice::amqp
