// One subcommand of the simclr program: its options, help and run in one
// place. Each lives in its own file under commands/; simclr_main.cpp lists
// them and dispatches.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

namespace simclr::cli {

class Command {
 public:
  virtual ~Command() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  // Binds the command's options to its members; run() reads them after parsing.
  virtual void add_options(CLI::App& app) = 0;
  // The exit code. Errors are thrown; main maps them to exit codes.
  virtual int run() = 0;
};

}  // namespace simclr::cli
