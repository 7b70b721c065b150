#include "core/listen_address.h"

#include <gtest/gtest.h>

namespace sluice::core {
namespace {

TEST(ListenAddress, TakesIpAddressesAndLocalhost) {
  EXPECT_EQ(parse_listen_address("127.0.0.1:8080")->port, 8080);
  EXPECT_EQ(parse_listen_address("localhost:0")->host, "127.0.0.1");
  EXPECT_EQ(parse_listen_address("[::1]:443")->host, "::1");
  EXPECT_EQ(parse_listen_address("0.0.0.0:65535")->port, 65535);
}

TEST(ListenAddress, SaysWhatIsWrong) {
  for (const char* bad : {"bogus", "localhost", "127.0.0.1", "[::1]", "example.com:80", "127.0.0.1:", "127.0.0.1:x",
                          "127.0.0.1:65536", "127.0.0.1:-1", "::1:80", "[nope]:80", "1.2.3.4.5:80", ":80"}) {
    auto r = parse_listen_address(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().find(bad), std::string::npos) << r.error();
  }
}

}  // namespace
}  // namespace sluice::core
