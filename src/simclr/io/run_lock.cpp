#include "simclr/io/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <string>

#include "simclr/core/error.h"
#include "simclr/io/atomic_file.h"

namespace simclr::io {

RunLock::RunLock(const std::string& dir, const std::string& command, const std::string& name) {
  const std::string path = (std::filesystem::path(dir) / name).string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  SIMCLR_CHECK(fd_ >= 0, "cannot lock '{}': {} while creating '{}'", dir, describe_write_errno(errno), path);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    std::string holder(512, '\0');
    const ssize_t n = ::pread(fd_, holder.data(), holder.size(), 0);
    holder.resize(n > 0 ? static_cast<size_t>(n) : 0);
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    SIMCLR_CHECK(e == EWOULDBLOCK, "cannot lock '{}': {}", dir, describe_write_errno(e));
    throw Error(fmt::format("'{}' is in use by another simclr process ({}); wait for it to finish or stop it, or give "
                            "another output folder",
                            dir, holder.empty() ? "its description is not written yet" : holder));
  }
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char when[32] = {0};
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  const std::string text = fmt::format("pid {} on {}, '{}', since {}\n", ::getpid(), host, command, when);
  if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, text.data(), text.size(), 0) < 0) {
    // Informative only: the lock itself holds without the description.
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace simclr::io
