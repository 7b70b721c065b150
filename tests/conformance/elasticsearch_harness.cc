// The elasticsearch output's harness: the tests' _bulk endpoint
// (tests/elasticsearch/bulk_endpoint.py, started once for the whole suite),
// which answers per item as Elasticsearch does; a document says how it must
// be answered (es_fail: 429-once, a transient refusal; mapping, a permanent
// one), and /_test/docs tells what was indexed, in order.
#include <unistd.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <atomic>

#include "harnesses.h"
#include "peer_process.h"

namespace sluice::conformance {
namespace {

const PeerProcess& endpoint() {
  static PeerProcess p({"/usr/bin/python3", SLUICE_SOURCE_DIR "/tests/elasticsearch/bulk_endpoint.py", "0"},
                       "/usr/bin/python3 tests/elasticsearch/bulk_endpoint.py");
  return p;
}

class ElasticsearchHarness final : public OutputHarness {
 public:
  ElasticsearchHarness() {
    static std::atomic<int> next{0};
    index_ = fmt::format("conformance-{}-{}", ::getpid(), next++);
  }
  std::string block(Env&) override {
    return fmt::format("elasticsearch: {{urls: [\"{}\"], index: {}, id: \"{{{{id}}}}\"}}", endpoint().url(), index_);
  }
  std::string payload(const std::string& id, Kind kind) override {
    if (kind == Kind::ok) return json_payload(id);
    return fmt::format(R"({{"id":"{}","es_fail":"{}"}})", id, kind == Kind::transient ? "429-once" : "mapping");
  }
  bool supports(Kind) const override { return true; }
  std::vector<std::string> received(Env&) override {
    const auto docs = boost::json::parse(run_command(fmt::format("curl -sf {}/_test/docs", endpoint().url())));
    std::vector<std::string> ids;
    for (const auto& d : docs.as_array())
      if (d.at("index").as_string() == index_) ids.emplace_back(d.at("source").at("id").as_string());
    return ids;
  }
  std::string unreachable_block(Env&) override {
    return fmt::format("elasticsearch: {{urls: [\"http://127.0.0.1:{}\"], index: {}}}", free_port(), index_);
  }

 private:
  std::string index_;
};

}  // namespace

std::unique_ptr<OutputHarness> make_elasticsearch_harness() { return std::make_unique<ElasticsearchHarness>(); }

}  // namespace sluice::conformance
