#pragma once
// Faults that make this process unfit to take work until it restarts: a
// corrupt database, an I/O error on its disk. The component that meets one
// reports it (once per source); /health/ready answers 503 naming them, so a
// load balancer or an operator stops sending work here.
//
// Threads: safe from any thread.

#include <string>
#include <vector>

namespace sluice::core {

// Returns true the first time `source` (e.g. a file path) reports a fault.
bool report_fault(const std::string& source, const std::string& what);
// "source: what" for each source, in report order.
std::vector<std::string> faults();

}  // namespace sluice::core
