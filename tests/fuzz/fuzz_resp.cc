// libFuzzer target for RESP replies (redis/resp.h), as a hostile or broken
// server would send them. The first byte chooses how the rest is cut into
// reads. Promises beside "no crash": the same bytes decode to the same
// replies however they are cut, a failed decoder stays failed, and the
// limits hold (no reply larger than the stream that carried it).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "redis/resp.h"

namespace {

using sluice::redis::Decoder;
using sluice::redis::DecoderLimits;
using sluice::redis::Reply;

// The replies (described) and whether the stream failed, cut every `step` bytes.
std::pair<std::vector<std::string>, bool> decode(std::string_view bytes, size_t step) {
  Decoder d(DecoderLimits{.max_bulk = 4096, .max_elements = 256, .max_depth = 8});
  std::vector<std::string> out;
  for (size_t at = 0; at < bytes.size(); at += step) {
    d.feed(bytes.substr(at, step));
    for (;;) {
      auto r = d.next();
      if (!r) {
        sluice::fuzz::check(!d.next(), "a failed decoder stays failed");
        return {out, true};
      }
      if (!*r) break;
      const Reply& reply = **r;
      sluice::fuzz::check(reply.text.size() <= bytes.size(), "a reply is no larger than its stream");
      out.push_back(std::to_string(static_cast<int>(reply.type)) + ":" + reply.describe() + ":" +
                    std::to_string(reply.elements.size()));
    }
  }
  return {out, false};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::fuzz::check_cut_invariance(data, size, decode, "the replies do not depend on how the bytes are cut");
  return 0;
}
