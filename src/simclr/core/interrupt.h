// Ctrl-C and SIGTERM, at any moment of any command. The handler only records
// the signal; the work polls it where stopping is safe: the training loop
// after a step (it then saves a checkpoint), and every long loop elsewhere
// (indexing files, extracting features, fitting a probe, an ablation grid)
// through check_interrupt(), which throws Interrupted. main() turns that into
// exit code 128 + signal (130 for SIGINT, 143 for SIGTERM). A second signal
// ends the process at once; files are written atomically, so nothing already
// saved is lost either way.
#pragma once
#include <string>

#include "simclr/core/error.h"

namespace simclr {

class Interrupted : public Error {
 public:
  explicit Interrupted(int signal);
  int signal;
  int exit_code() const { return 128 + signal; }
};

// Installs the handlers for SIGINT and SIGTERM (also where the parent shell
// ignored SIGINT, as it does for background jobs). Call first in main().
// It also starts a watchdog: a process that has not ended `grace` seconds
// after the signal (a computation that never reaches a poll, a library
// call that hangs) exits with 128 + signal, naming the reason. SIGPIPE is
// ignored, so a dead peer's socket is an error to report, not a silent death.
void install_interrupt_handlers();

// The watchdog's grace (default 10 s). Pretraining raises it to cover a
// step and a checkpoint, so a signal never cuts a save short.
void set_interrupt_grace_seconds(double seconds);

// The signal received so far (0: none).
int interrupt_signal();
inline bool interrupted() { return interrupt_signal() != 0; }

// Throws Interrupted if a signal arrived.
void check_interrupt();

// Tests: forget a recorded signal.
void clear_interrupt();

// A named moment of a command ("start-up", "data", "model", "features",
// "probe", "export", "training", "ablation"). The fault-injection tests set
// SIMCLR_FAULT_SIGNAL_AT=<phase> (and SIMCLR_FAULT_SIGNAL=TERM for SIGTERM)
// to deliver the signal exactly there; otherwise this does nothing.
void signal_point(const char* phase);

// signal_point(phase), then check_interrupt().
void interrupt_point(const char* phase);

}  // namespace simclr
