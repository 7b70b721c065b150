#include "cli/did_you_mean.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "core/closest.h"

namespace sluice::cli {
namespace {

std::vector<std::string> candidates(const CLI::App& cmd) {
  std::vector<std::string> out;
  for (const CLI::App* sub : cmd.get_subcommands([](const CLI::App*) { return true; })) out.push_back(sub->get_name());
  for (const CLI::Option* opt : cmd.get_options())
    for (const auto& name : opt->get_lnames()) out.push_back("--" + name);
  return out;
}

}  // namespace

std::string did_you_mean(const CLI::App& app, const std::vector<std::string>& args) {
  const CLI::App* cmd = &app;
  std::string out;
  auto suggest = [&](const std::string& typed) {
    if (auto best = core::closest(typed, candidates(*cmd)))
      out += fmt::format("sluice{}{}: unknown '{}'; did you mean '{}'?\n", cmd == &app ? "" : " ",
                         cmd == &app ? "" : cmd->get_name(), typed, *best);
  };
  for (const auto& arg : args) {
    if (arg.starts_with("--")) {
      const std::string flag = arg.substr(0, arg.find('='));
      if (!cmd->get_option_no_throw(flag)) suggest(flag);
      continue;
    }
    if (arg.starts_with("-")) continue;
    const auto subs = cmd->get_subcommands([](const CLI::App*) { return true; });
    auto it = std::find_if(subs.begin(), subs.end(), [&](const CLI::App* s) { return s->check_name(arg); });
    if (it != subs.end()) {
      cmd = *it;
    } else if (!subs.empty()) {
      suggest(arg);  // a word where a command belongs
      break;
    }
    // otherwise an option's value or a positional argument
  }
  return out;
}

}  // namespace sluice::cli
