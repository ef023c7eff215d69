// The simclr command-line program: a thin front end over the simclr library.
// Results go to stdout (one JSON object with --json); logs go to stderr.
// Each command (its options, help and run) is in commands/; this file lists
// them, dispatches and maps errors to exit codes.
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <new>
#include <vector>

#include "command.h"
#include "simclr/core/error.h"
#include "simclr/core/interrupt.h"

namespace simclr::cli {
// Defined in commands/, one file each.
std::unique_ptr<Command> make_pretrain_command();
std::unique_ptr<Command> make_linear_eval_command();
std::unique_ptr<Command> make_knn_eval_command();
std::unique_ptr<Command> make_finetune_command();
std::unique_ptr<Command> make_embed_command();
std::unique_ptr<Command> make_export_command();
std::unique_ptr<Command> make_info_command();
std::unique_ptr<Command> make_ablate_command();
std::unique_ptr<Command> make_bench_command();
std::unique_ptr<Command> make_augment_preview_command();
}  // namespace simclr::cli

namespace {

// The commands in the order `simclr --help` lists them, which is part of the
// command-line contract. An explicit list rather than static registrars in
// the command files: the constructors of statics in different files run in
// an unspecified order (in practice the link order, that is file names), and
// a registrar in an object file that nothing references is dropped when the
// files go into a static library. A new command is one file and two lines here
// (its declaration and its place in the list).
std::vector<std::unique_ptr<simclr::cli::Command>> make_commands() {
  using namespace simclr::cli;
  std::vector<std::unique_ptr<Command>> commands;
  for (auto make : {make_pretrain_command, make_linear_eval_command, make_knn_eval_command, make_finetune_command,
                    make_embed_command, make_export_command, make_info_command, make_ablate_command,
                    make_bench_command, make_augment_preview_command}) {
    commands.push_back(make());
  }
  return commands;
}

}  // namespace

int main(int argc, char** argv) {
  // First, so that a signal during start-up is seen (and not ignored, as a
  // shell does for SIGINT in background jobs). Ctrl-C / SIGTERM
  // (core/interrupt.h): pretraining finishes the step, checkpoints and exits
  // 130 / 143; every other command stops at its next poll with the same
  // codes. A second signal exits at once.
  simclr::install_interrupt_handlers();
  spdlog::set_default_logger(spdlog::stderr_color_mt("simclr"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");

  CLI::App app{"simclr: SimCLR self-supervised pretraining and evaluation of image encoders (C++/LibTorch)"};
  app.set_version_flag("--version", "simclr 0.1.0");
  app.require_subcommand(1);
  // The commands hold the values their options are bound to: they outlive the parse.
  const auto commands = make_commands();
  for (const auto& command : commands) {
    command->add_options(*app.add_subcommand(command->name(), command->description()));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    simclr::interrupt_point("start-up");
    for (const auto& command : commands) {
      if (app.got_subcommand(command->name())) return command->run();
    }
  } catch (const simclr::Interrupted& e) {
    spdlog::warn("{}; stopped. Files already written are intact", e.what());
    return e.exit_code();
  } catch (const simclr::Error& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const c10::Error& e) {
    // Something simclr did not check first: a bug to report, never a crash.
    spdlog::error("internal error in LibTorch: {}", e.what_without_backtrace());
    return 2;
  } catch (const std::bad_alloc&) {
    spdlog::error("out of memory; lower --batch-size or --eval.batch_size, or use a smaller model");
    return 1;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (...) {
    spdlog::error("unknown error; please report it with the command line");
    return 2;
  }
  return 0;
}
