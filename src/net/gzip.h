#pragma once
// gzip bodies (RFC 1952), for APIs that take compressed requests
// (Elasticsearch's _bulk with Content-Encoding: gzip).

#include <string>
#include <string_view>

namespace sluice::net {

// `data` compressed as one gzip member (zlib level 1: bulk text shrinks
// most of the way at a fraction of the CPU of the default level).
std::string gzip(std::string_view data);
// The inverse; throws std::runtime_error on a damaged stream. For tests.
std::string gunzip(std::string_view data);

}  // namespace sluice::net
