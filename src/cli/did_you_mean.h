#pragma once
// Suggestions for a mistyped command or flag ("did you mean 'alert'?"),
// from the commands and long flags where the parse stopped.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace sluice::cli {

// Walks the arguments as the commands nest and, for a word where a command
// belongs or a --flag the command does not have, names the closest command
// or flag there; lines to print, empty when nothing is close.
std::string did_you_mean(const CLI::App& app, const std::vector<std::string>& args);

}  // namespace sluice::cli
