// LD_PRELOAD shim for the fault-injection tests: a disk that fills up.
//
//   SIMCLR_FAULT_PATH=<substring>   only files whose path contains it
//   SIMCLR_FAULT_AFTER_BYTES=<N>    they may take N bytes in all, then
//   SIMCLR_FAULT_ERRNO=<n>          write() fails with this errno (28, ENOSPC)
//
// It wraps libc's write(), through which every byte simclr writes goes
// (io/atomic_file.cpp), and fails it as a full disk would; the path of a
// descriptor is read from /proc/self/fd. Linux only.
#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using WriteFn = ssize_t (*)(int, const void*, size_t);

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

std::atomic<long long> g_written{0};

bool matches(int fd) {
  static const char* pattern = env("SIMCLR_FAULT_PATH");
  if (!pattern || fd <= 2) return false;
  char link[64], path[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  return std::strstr(path, pattern) != nullptr;
}

int fault_errno() {
  static const char* e = env("SIMCLR_FAULT_ERRNO");
  return e ? std::atoi(e) : ENOSPC;
}

}  // namespace

extern "C" ssize_t write(int fd, const void* buf, size_t count) {
  static WriteFn real = reinterpret_cast<WriteFn>(dlsym(RTLD_NEXT, "write"));
  if (!matches(fd)) return real(fd, buf, count);
  static const char* limit_text = env("SIMCLR_FAULT_AFTER_BYTES");
  const long long limit = limit_text ? std::atoll(limit_text) : 0;
  const long long used = g_written.load();
  if (used >= limit) {
    errno = fault_errno();
    return -1;
  }
  const size_t allowed = static_cast<size_t>(std::min<long long>(static_cast<long long>(count), limit - used));
  const ssize_t w = real(fd, buf, allowed);
  if (w > 0) g_written += w;
  return w;
}
