// libFuzzer target for what an AMQP broker sends (amqp/wire.h and
// amqp/protocol.h): frames through the frame decoder, whole methods and
// contents out of the assembler, and each method's arguments and each
// content's properties read as the connection reads them. The first byte
// chooses how the rest is cut into reads. Promises beside "no crash": the
// same bytes give the same methods however they are cut, a failed stream
// stays failed, and no content is larger than the stream that carried it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "amqp/protocol.h"
#include "amqp/wire.h"
#include "fuzz_check.h"

namespace {

using namespace sluice::amqp;

// Reads a method's arguments the way the connection might: strings, tables, numbers.
std::string read_args(const std::string& args) {
  Decoder d(args);
  std::string out = d.shortstr();
  d.u64();
  Table t = d.table();
  for (const auto& [k, v] : t) out += k + "=" + v.to_text() + ";";
  return out + (d.ok() ? "" : "!" + d.error());
}

std::pair<std::vector<std::string>, bool> decode(std::string_view bytes, size_t step) {
  FrameDecoder frames(4096);
  Assembler assembler(8192);
  std::vector<std::string> out;
  for (size_t at = 0; at < bytes.size(); at += step) {
    frames.feed(bytes.substr(at, step));
    for (;;) {
      auto f = frames.next();
      if (!f) {
        sluice::fuzz::check(!frames.next(), "a failed frame decoder stays failed");
        return {out, true};
      }
      if (!*f) break;
      auto in = assembler.feed(std::move(**f));
      if (!in) return {out, true};
      if (!*in) continue;
      if (auto* m = std::get_if<Method>(&**in)) {
        out.push_back(method_name(m->id) + ":" + read_args(m->args));
      } else if (auto* c = std::get_if<Content>(&**in)) {
        sluice::fuzz::check(c->body.size() <= bytes.size(), "a content is no larger than its stream");
        std::string props;
        for (const auto& [k, v] : c->properties.headers) props += k + "=" + v.to_text() + ";";
        out.push_back(method_name(c->id) + ":" + std::to_string(c->body.size()) + ":" + props);
      } else {
        out.push_back("heartbeat");
      }
    }
  }
  return {out, false};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::fuzz::check_cut_invariance(data, size, decode, "the methods do not depend on how the bytes are cut");
  return 0;
}
