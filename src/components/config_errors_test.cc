// Bad configs must fail with one exact, positioned message each
// (`FILE:LINE:COL: error: ...`), checked against the real component specs.
#include <gtest/gtest.h>

#include <map>

#include "components/component_list.h"
#include "config/config.h"

namespace sluice {
namespace {

struct Case {
  const char* name;
  const char* yaml;
  const char* expected;  // the whole diagnostics text
};

config::EnvLookup test_env() {
  return [](const std::string& k) -> std::optional<std::string> {
    static const std::map<std::string, std::string> env = {{"TOKEN", "s3cret-value"}, {"PORT", "4195"}};
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

std::string errors_of(const char* yaml) {
  auto r = config::load_string(yaml, "t.yaml", components::component_list(), test_env());
  return r ? std::string("<loaded fine>") : r.error().to_string();
}

class BadConfig : public ::testing::TestWithParam<Case> {};

TEST_P(BadConfig, FailsWithExactPositionedMessage) {
  EXPECT_EQ(errors_of(GetParam().yaml), GetParam().expected);
}

const Case kCases[] = {
    {"yaml_syntax", "pipelines:\n  p: {input: [\n", "t.yaml:3:1: error: invalid YAML: end of sequence flow not found\n"},
    {"not_a_map", "- a\n- b\n",
     "t.yaml:1:1: error: a config file must be a map with at least a 'pipelines' section\n"},
    {"no_pipelines", "data_dir: ./d\n", "t.yaml:1:1: error: missing required section 'pipelines'\n"},
    {"unknown_top_level", "pipelnes: {}\n",
     "t.yaml:1:1: error: unknown field 'pipelnes' in the config; did you mean 'pipelines'?\n"
     "t.yaml:1:1: error: missing required section 'pipelines'\n"},
    {"unknown_input_type",
     "pipelines:\n  p:\n    input:\n      kafka: {}\n    output:\n      drop: {}\n",
     "t.yaml:4:7: error: unknown input type 'kafka' (known: generate, file, stdin, queue, http_server, sqs, amqp, redis_list, redis_streams, sidekiq, ledger_overdue, ledger_resend)\n"},
    {"single_reader_input_with_concurrency",
     "pipelines:\n  p:\n    input:\n      ledger_overdue: {}\n      concurrency: 2\n    output:\n      drop: {}\n",
     "t.yaml:4:7: error: the input of pipeline 'p' (ledger_overdue) reads alone: 'concurrency' must be 1, not 2\n"},
    {"duplicate_pipeline_name",
     "pipelines:\n  p:\n    input: {generate: {}}\n    output: {drop: {}}\n  p:\n    input: {generate: {}}\n"
     "    output: {drop: {}}\n",
     "t.yaml:5:3: error: pipeline 'p' is defined twice (first on line 2)\n"},
    {"input_type_typo",
     "pipelines:\n  p:\n    input:\n      generat: {}\n    output:\n      drop: {}\n",
     "t.yaml:4:7: error: unknown input type 'generat'; did you mean 'generate'?\n"},
    {"two_types_in_one_block",
     "pipelines:\n  p:\n    input:\n      generate: {}\n      stdin: {}\n    output:\n      drop: {}\n",
     "t.yaml:4:7: error: input of pipeline 'p' names 2 types ('generate', 'stdin'); a block names exactly one\n"},
    {"unknown_field_with_hint",
     "pipelines:\n  p:\n    input:\n      generate: {cuont: 5}\n    output:\n      drop: {}\n",
     "t.yaml:4:18: error: unknown field 'cuont' in generate input; did you mean 'count'?\n"},
    {"integer_expected",
     "pipelines:\n  p:\n    input:\n      generate: {count: lots}\n    output:\n      drop: {}\n",
     "t.yaml:4:25: error: field 'count' must be an integer, got 'lots'\n"},
    {"below_minimum",
     "pipelines:\n  p:\n    input:\n      generate: {count: -5}\n    output:\n      drop: {}\n",
     "t.yaml:4:25: error: field 'count' must be >= 0, got '-5'\n"},
    {"bad_rate",
     "rate_limits:\n  slow: {rate: fast}\npipelines:\n  p:\n    input: {stdin: {}}\n    output: {drop: {}}\n",
     "t.yaml:2:16: error: field 'rate' must be a rate like 100/s, 20/min or 1000/h, at least 1/d, got 'fast'\n"},
    {"missing_rate",
     "rate_limits:\n  slow: {burst: 5}\npipelines:\n  p:\n    input: {stdin: {}}\n    output: {drop: {}}\n",
     "t.yaml:2:9: error: missing required field 'rate' in rate limit 'slow'\n"},
    {"rate_limit_typo_is_an_unknown_field_not_a_backend",
     "rate_limits:\n  slow: {rate: 10/s, brust: 5}\npipelines:\n  p:\n    input: {stdin: {}}\n    output: {drop: {}}\n",
     "t.yaml:2:22: error: unknown field 'brust' in rate limit 'slow'; did you mean 'burst'?\n"},
    {"rate_limit_backend_field",
     "rate_limits:\n  slow: {rate: 10/s, local: {size: 1}}\npipelines:\n  p:\n    input: {stdin: {}}\n    output: {drop: {}}\n",
     "t.yaml:2:30: error: unknown field 'size' in the local backend of rate limit 'slow', which takes no fields\n"},
    {"undefined_http_resource",
     "resources:\n  http:\n    pool: {}\npipelines:\n  p:\n    input: {stdin: {}}\n"
     "    output: {http_client: {url: 'http://x/', client: pol}}\n",
     "t.yaml:7:54: error: http resource 'pol' is not defined in resources.http; did you mean 'pool'?\n"},
    {"undefined_rate_limit",
     "rate_limits:\n  slow: {rate: 10/s}\npipelines:\n  p:\n    input: {stdin: {}}\n"
     "    output: {drop: {}, rate_limit: slwo}\n",
     "t.yaml:6:36: error: rate limit 'slwo' is not defined in rate_limits; did you mean 'slow'?\n"},
    {"bad_duration",
     "pipelines:\n  p:\n    input: {stdin: {}}\n    output:\n      drop: {}\n      retry: {initial: soon}\n",
     "t.yaml:6:24: error: field 'initial' must be a duration like 500ms, 30s or 5m, up to 100 years, got 'soon'\n"},
    {"missing_required_component_field",
     "pipelines:\n  p:\n    input: {stdin: {}}\n    output:\n      file: {}\n",
     "t.yaml:5:13: error: missing required field 'path' in file output\n"},
    {"unset_env_var",
     "pipelines:\n  p:\n    input: {file: {path: \"${NOPE}\"}}\n    output: {drop: {}}\n",
     "t.yaml:3:26: error: field 'path': environment variable 'NOPE' is not set and has no default\n"},
    {"bad_choice",
     "log: {format: xml}\npipelines:\n  p:\n    input: {stdin: {}}\n    output: {drop: {}}\n",
     "t.yaml:1:15: error: field 'format' must be one of: text, json; got 'xml'\n"},
    {"unclosed_template",
     "pipelines:\n  p:\n    input: {stdin: {}}\n    processors:\n      - mapping: {set: {to: \"{{recipient\"}}\n"
     "    output: {drop: {}}\n",
     "t.yaml:5:29: error: field 'set.to': unclosed '{{' at character 1\n"},
    {"filter_without_condition",
     "pipelines:\n  p:\n    input: {stdin: {}}\n    processors:\n      - filter: {field: status}\n"
     "    output: {drop: {}}\n",
     "t.yaml:5:25: error: filter needs exactly one of 'equals', 'matches' or 'exists'\n"},
    {"bad_regex",
     "pipelines:\n  p:\n    input: {stdin: {}}\n    processors:\n      - filter: {field: status, matches: \"([a-z\"}\n"
     "    output: {drop: {}}\n",
     "t.yaml:5:42: error: invalid regular expression: Unexpected character within '[...]' in regular expression\n"},
    {"output_and_outputs",
     "pipelines:\n  p:\n    input: {stdin: {}}\n    output: {drop: {}}\n    outputs: [{drop: {}}]\n",
     "t.yaml:5:14: error: pipeline 'p' has both 'output' and 'outputs'; use one\n"},
    {"no_output", "pipelines:\n  p:\n    input: {stdin: {}}\n",
     "t.yaml:3:5: error: pipeline 'p' has no 'output' (or 'outputs')\n"},
    {"retry_max_below_initial",
     "pipelines:\n  p:\n    input: {stdin: {}}\n    output:\n      drop: {}\n      retry: {initial: 2s, max: 1s}\n",
     "t.yaml:6:33: error: field 'max' of retry must not be less than 'initial'\n"},
    {"processors_not_a_list",
     "pipelines:\n  p:\n    input: {stdin: {}}\n    processors: {mapping: {}}\n    output: {drop: {}}\n",
     "t.yaml:4:17: error: 'processors' of pipeline 'p' must be a list\n"},
    {"dead_letter_checked_too",
     "pipelines:\n  p:\n    input: {stdin: {}}\n    output:\n      drop: {}\n      dead_letter: {queue: {nam: x}}\n",
     "t.yaml:6:29: error: unknown field 'nam' in queue output; did you mean 'name'?\n"
     "t.yaml:6:28: error: missing required field 'name' in queue output\n"},
    // Found by tests/fuzz: an output that is a string threw logic_error out of lint.
    {"output_not_a_map", "pipelines:\n  p:\n    input: {stdin: {}}\n    output: abc\n",
     "t.yaml:4:13: error: output of pipeline 'p' must be a map naming one output type\n"},
    // Found by tests/fuzz: a feature section that is not a map threw logic_error out of lint.
    {"section_not_a_map", "alerts: 5\npipelines:\n  p:\n    input: {stdin: {}}\n    output: {drop: {}}\n",
     "t.yaml:1:9: error: field 'alerts' must be a map, got a scalar\n"},
    // Found by tests/fuzz: a second `output:` (a key the loader reads itself) was ignored.
    {"output_given_twice",
     "pipelines:\n  p:\n    input: {stdin: {}}\n    output: {drop: {}}\n    output: {stdout: {}}\n",
     "t.yaml:5:5: error: field 'output' is set twice in pipeline 'p'\n"},
    // Found by tests/fuzz: bytes that only look like UTF-8 (FF, an overlong
    // E0 80 80, a surrogate ED A0 80) reached the terminal raw.
    {"invalid_utf8_escaped", "pipelines:\n  p:\n    input: {stdin: {}}\n    output: {drop: {}}\n\xff\x85\x85: 1\n"
     "\xe0\x80\x80: 2\n\xed\xa0\x80: 3\n",
     "t.yaml:5:1: error: unknown field '\\xff\\x85\\x85' in the config (fields: admin, data_dir, log, threads, "
     "shutdown_timeout, alerts, ledger, rate_limits, resources, pipelines)\n"
     "t.yaml:6:1: error: unknown field '\\xe0\\x80\\x80' in the config (fields: admin, data_dir, log, threads, "
     "shutdown_timeout, alerts, ledger, rate_limits, resources, pipelines)\n"
     "t.yaml:7:1: error: unknown field '\\xed\\xa0\\x80' in the config (fields: admin, data_dir, log, threads, "
     "shutdown_timeout, alerts, ledger, rate_limits, resources, pipelines)\n"},
};

INSTANTIATE_TEST_SUITE_P(Config, BadConfig, ::testing::ValuesIn(kCases),
                         [](const auto& test_case) { return std::string(test_case.param.name); });

TEST(Config, ReportsEveryErrorNotJustTheFirst) {
  const char* yaml =
      "pipelines:\n  a:\n    input: {generate: {count: x}}\n    output: {drop: {}}\n"
      "  b:\n    input: {stdin: {codec: csv}}\n    output: {drop: {}}\n";
  EXPECT_EQ(errors_of(yaml),
            "t.yaml:3:31: error: field 'count' must be an integer, got 'x'\n"
            "t.yaml:6:28: error: field 'codec' must be one of: lines, json_lines; got 'csv'\n");
}

// Found by tests/fuzz: past the 50 errors kept, a component's missing
// required fields went unnoticed and its validate hook read them (a
// logic_error out of lint).
TEST(Config, ChecksStillSkipAComponentWithErrorsOnceErrorsAreNoLongerKept) {
  std::string yaml = "pipelines:\n  a: {";
  for (int i = 0; i < 60; ++i) yaml += "k" + std::to_string(i) + ": 1, ";
  yaml += "z: 1}\n  p:\n    input: {generate: {count: 1}}\n    output:\n      twilio: {}\n";
  const std::string errors = errors_of(yaml.c_str());
  EXPECT_NE(errors.find("more error(s) not shown"), std::string::npos) << errors;
}

TEST(Config, ValidConfigLoadsWithDefaultsAndEnv) {
  const char* yaml =
      "admin: {address: \"127.0.0.1:${PORT}\"}\n"
      "rate_limits:\n  slow: {rate: 200/s, burst: 20}\n"
      "pipelines:\n  p:\n    input: {generate: {count: 5}}\n"
      "    output: {drop: {}, rate_limit: slow, retry: {max_attempts: 3}}\n";
  auto r = config::load_string(yaml, "t.yaml", components::component_list(), test_env());
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->admin_address, "127.0.0.1:4195");
  ASSERT_EQ(r->rate_limits.size(), 1u);
  EXPECT_EQ(r->rate_limits[0].spec.per_second, 200);
  EXPECT_EQ(r->rate_limits[0].spec.burst, 20);
  ASSERT_EQ(r->pipelines.size(), 1u);
  const auto& out = r->pipelines[0].outputs.at(0);
  EXPECT_EQ(out.rate_limit, "slow");
  EXPECT_EQ(out.max_in_flight, 64);
  EXPECT_EQ(out.retry.max_attempts, 3);
  EXPECT_EQ(out.retry.initial, std::chrono::milliseconds(200));
}

}  // namespace
}  // namespace sluice
