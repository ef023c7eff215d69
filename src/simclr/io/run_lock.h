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

constexpr const char* kLockFile = ".simclr.lock";

class RunLock {
 public:
  // Locks `dir` (which must exist) for `command` (e.g. "simclr pretrain").
  // `name` is the lock file's: processes that share a directory by design
  // (the shards of one ablation) each lock a name of their own.
  RunLock(const std::string& dir, const std::string& command, const std::string& name = kLockFile);
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

 private:
  int fd_ = -1;
};


}  // namespace simclr::io
