// The one way simclr writes a file. Every file the program leaves behind
// (checkpoints, exports, .npy and index files, configs, results, tables,
// previews) goes through write_atomically: the bytes go to a temporary file
// in the target's folder, which is flushed, fsynced and renamed over the
// target. Whatever happens (a full disk, a read-only mount, a signal, kill
// -9), the target is the old version or the new one, never half of either.
//
// What it refuses, before writing a byte:
// - targets that are not regular files (devices such as /dev/null, FIFOs,
//   folders): simclr would otherwise replace the node by a regular file;
// - a file that the running command reads (register_input): `simclr export
//   --out RUN/checkpoint.pt` must not destroy its own checkpoint.
// Symbolic links are written through: the file the link points to is
// replaced and the link stays a link.
//
// Temporaries are named `.NAME.simclr-tmp.PID`; the first write into a folder
// removes those whose process is gone (left by kill -9 or a power loss).
#pragma once
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "simclr/core/error.h"

namespace simclr {

// A file could not be written: the message names the target, the cause in
// words (disk full, read-only, permission, I/O error) and what was kept.
class WriteError : public Error {
 public:
  WriteError(const std::string& what, int error_number) : Error(what), error_number(error_number) {}
  int error_number;  // errno of the failed call (ENOSPC, EROFS, ...), 0 for a refused target
};

struct WriteOptions {
  // When set and the target exists, the target is first kept under this
  // name (hard link, then rename: the target never disappears). Checkpoints
  // keep the one before the latest this way.
  std::string keep_previous_as;
};

// Fills the target through `write(stream)`. The stream never fails while it
// is written to: LibTorch's archive writers end the process when a write
// fails inside them (their destructor throws again), so the first failure is
// recorded, later bytes are only counted, and write_atomically throws
// WriteError once `write` returns. An exception from `write` itself removes
// the temporary and propagates.
void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write,
                      const WriteOptions& options = {});

// Text or any bytes held in memory (configs, JSON results, encoded PNGs).
void write_text_atomically(const std::string& path, const std::string& text);

// Marks `path` as an input of this process: write_atomically refuses to
// replace it (compared by device and inode, so other names of it count).
// `what` names it in the message ("the checkpoint", "the weights file").
void register_input(const std::string& path, const std::string& what);

// Appends to a file that must already exist (metrics.jsonl). Each append is
// all or nothing: a failed write is cut off again (no torn line) and throws
// WriteError naming the file and the cause.
class AppendFile {
 public:
  AppendFile() = default;
  explicit AppendFile(const std::string& path);
  AppendFile(AppendFile&& other) noexcept;
  AppendFile& operator=(AppendFile&& other) noexcept;
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  ~AppendFile();

  void append(const std::string& text);
  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

namespace io {
// The cause of an errno in words, as write errors give it ("disk full").
std::string describe_write_errno(int error_number);
}  // namespace io

}  // namespace simclr
