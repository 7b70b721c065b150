#pragma once
// A loopback TCP port nothing listens on now (the kernel's pick), for the
// demo's peers and the tests' servers. Throws std::runtime_error if the
// kernel gives none.

namespace sluice::net {

int free_loopback_port();

}  // namespace sluice::net
