#include <iostream>

#include "cli/commands.h"
#include "components/component_list.h"
#include "config/config.h"
#include "config/docs.h"
#include "logging/log.h"
#include "alerts/api.h"
#include "runtime/engine.h"

namespace sluice::cli {

int run_command(const std::string& config_path, const std::string& log_level) {
  auto cfg = config::load_file(config_path, components::component_list());
  if (!cfg) {
    std::cerr << cfg.error().to_string();
    return 2;
  }
  logging::setup(log_level.empty() ? cfg->log_level : log_level, cfg->log_format);
  std::unique_ptr<runtime::Engine> engine;
  try {
    engine = std::make_unique<runtime::Engine>(*cfg, components::component_list(), alerts::install_alert_api);
  } catch (const config::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  return engine->run();
}

int lint_command(const std::vector<std::string>& files) {
  int code = 0;
  for (const auto& f : files) {
    auto cfg = config::load_file(f, components::component_list());
    if (!cfg) {
      std::cerr << cfg.error().to_string();
      code = 2;
    }
  }
  return code;
}

int docs_command(const std::string& topic) {
  auto text = config::render_docs(components::component_list(), topic);
  if (!text) {
    std::cerr << "sluice docs: no component or section named '" << topic << "'\n";
    return 2;
  }
  std::cout << *text;
  return 0;
}

}  // namespace sluice::cli
