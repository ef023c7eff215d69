#include "simclr/core/interrupt.h"

#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>
#include <cstdlib>
#include <cstring>

namespace simclr {
namespace {

std::atomic<int> g_signal{0};
std::atomic<double> g_grace_seconds{10.0};

void watchdog() {
  using Clock = std::chrono::steady_clock;
  while (g_signal.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto seen = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - seen).count() < g_grace_seconds.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const int s = g_signal.load();
  const char message[] =
      "simclr: still running long after the signal (stuck in a computation); exiting now. Files already written are "
      "intact\n";
  if (::write(STDERR_FILENO, message, sizeof message - 1) < 0) {
  }
  ::_exit(128 + s);
}

void on_signal(int signal) {
  int none = 0;
  if (!g_signal.compare_exchange_strong(none, signal)) {
    // The second signal: the user wants out now. _exit is async-signal-safe.
    ::_exit(128 + signal);
  }
}

}  // namespace

Interrupted::Interrupted(int signal)
    : Error(signal == SIGTERM ? "stopped by SIGTERM" : "interrupted (Ctrl-C)"), signal(signal) {}

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  // Restart interrupted system calls: LibTorch, Gloo and OpenCV do not all
  // retry on EINTR, and the loops poll the flag anyway.
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // A peer that dies mid-collective closes its sockets; Gloo's writes to them
  // would raise SIGPIPE and kill this rank silently (exit 141) before it can
  // name the dead peer and point to --resume. Ignored, the write fails with
  // EPIPE and the communicator reports it as an error.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);
  std::thread(watchdog).detach();
}

void set_interrupt_grace_seconds(double seconds) { g_grace_seconds = std::max(seconds, 1.0); }

int interrupt_signal() { return g_signal.load(std::memory_order_relaxed); }

void check_interrupt() {
  if (const int s = interrupt_signal()) throw Interrupted(s);
}

void clear_interrupt() { g_signal = 0; }

void signal_point(const char* phase) {
  static const char* at = std::getenv("SIMCLR_FAULT_SIGNAL_AT");
  if (at == nullptr || std::strcmp(at, phase) != 0) return;
  const char* which = std::getenv("SIMCLR_FAULT_SIGNAL");
  std::raise(which != nullptr && std::strcmp(which, "TERM") == 0 ? SIGTERM : SIGINT);
}

void interrupt_point(const char* phase) {
  signal_point(phase);
  check_interrupt();
}

}  // namespace simclr
