// One writer per run directory. `pretrain` and `ablate` hold an exclusive
// flock(2) on DIR/.simclr.lock while they run; a second process on the same
// folder stops at once with a message naming the holder. The kernel drops
// the lock when its process ends, however it ends (kill -9 included), so a
// stale lock file never blocks a later run.
//
// The lock file is the one file simclr does not write through
// write_atomically: a lock must stay on one inode, so the holder's
// description is written into it in place. It is informative only.
#pragma once
#include <string>

namespace simclr::io {

class RunLock {
 public:
  // Locks `dir` (which must exist) for `command` (e.g. "simclr pretrain").
  RunLock(const std::string& dir, const std::string& command);
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

 private:
  int fd_ = -1;
};

constexpr const char* kLockFile = ".simclr.lock";

}  // namespace simclr::io
