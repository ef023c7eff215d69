#include "simclr/io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <streambuf>
#include <vector>

#include <spdlog/spdlog.h>

namespace simclr {
namespace fs = std::filesystem;

namespace io {
std::string describe_write_errno(int e) {
  switch (e) {
    case ENOSPC: return "disk full";
    case EDQUOT: return "disk quota exceeded";
    case EROFS: return "read-only file system";
    case EACCES:
    case EPERM: return "permission denied";
    case EIO: return "I/O error";
    case ENOENT: return "the folder does not exist";
    case ENOTDIR: return "a component of the path is not a folder";
    case EFBIG: return "file too large for its file system";
    default: return std::strerror(e);
  }
}
}  // namespace io

namespace {

constexpr const char* kTempMarker = ".simclr-tmp.";

std::string megabytes(uint64_t bytes) {
  if (bytes < 10000) return fmt::format("{} bytes", bytes);
  if (bytes < 10000000) return fmt::format("{:.1f} kB", static_cast<double>(bytes) / 1e3);
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

std::string free_space(const fs::path& dir) {
  struct statvfs s {};
  if (::statvfs(dir.c_str(), &s) != 0) return "";
  return fmt::format(", {} free on its file system", megabytes(static_cast<uint64_t>(s.f_bavail) * s.f_frsize));
}

// Inputs of this process by (device, inode).
std::mutex g_inputs_mutex;
std::map<std::pair<dev_t, ino_t>, std::pair<std::string, std::string>> g_inputs;  // -> (path, what)

// An output stream over a file descriptor that never fails (see the header):
// the first write error is kept and everything after it only counted.
class CheckedFdBuf : public std::streambuf {
 public:
  explicit CheckedFdBuf(int fd) : fd_(fd), buffer_(1 << 20) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
  int error() const { return error_; }
  uint64_t bytes() const { return bytes_ + static_cast<uint64_t>(pptr() - pbase()); }
  uint64_t written() const { return written_; }
  void flush_all() { drain(); }

 protected:
  int_type overflow(int_type c) override {
    drain();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (n >= static_cast<std::streamsize>(buffer_.size())) {  // large tensors: no copy through the buffer
      drain();
      put(s, static_cast<size_t>(n));
      return n;
    }
    return std::streambuf::xsputn(s, n);
  }
  int sync() override {
    drain();
    return 0;
  }

 private:
  void drain() {
    const size_t n = static_cast<size_t>(pptr() - pbase());
    put(pbase(), n);
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }
  void put(const char* data, size_t n) {
    bytes_ += n;
    while (n > 0 && error_ == 0) {
      const ssize_t w = ::write(fd_, data, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        break;
      }
      if (w == 0) {  // no progress and no errno: treat as full
        error_ = ENOSPC;
        break;
      }
      written_ += static_cast<uint64_t>(w);
      data += w;
      n -= static_cast<size_t>(w);
    }
  }

  int fd_;
  std::vector<char> buffer_;
  int error_ = 0;
  uint64_t bytes_ = 0;    // handed to the stream (flushed part)
  uint64_t written_ = 0;  // reached the file
};

bool process_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

// Removes `.X.simclr-tmp.PID` files of processes that no longer exist, once
// per folder and process.
void remove_stale_temporaries(const fs::path& dir) {
  static std::mutex mutex;
  static std::set<std::string> done;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!done.insert(dir.string()).second) return;
  }
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto marker = name.find(kTempMarker);
    if (name.empty() || name[0] != '.' || marker == std::string::npos) continue;
    char* rest = nullptr;
    const long pid = std::strtol(name.c_str() + marker + std::strlen(kTempMarker), &rest, 10);
    if (rest && *rest == '\0' && pid != ::getpid() && !process_alive(pid)) {
      std::error_code remove_ec;
      if (fs::remove(it->path(), remove_ec)) spdlog::info("removed '{}', left by an interrupted simclr", it->path().string());
    }
  }
}

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The file to replace: `path`, or what its symbolic links point to.
fs::path resolve_target(const std::string& path) {
  SIMCLR_CHECK(!path.empty(), "an output file path is empty; give a file name");
  fs::path target(path);
  struct stat st {};
  for (int hops = 0; ::lstat(target.c_str(), &st) == 0 && S_ISLNK(st.st_mode); ++hops) {
    SIMCLR_CHECK(hops < 40, "cannot write '{}': too many levels of symbolic links", path);
    std::error_code ec;
    const fs::path next = fs::read_symlink(target, ec);
    SIMCLR_CHECK(!ec, "cannot write '{}': unreadable symbolic link ({})", path, ec.message());
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
  if (::stat(target.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      throw WriteError(fmt::format("cannot write '{}': it is {}, not a regular file; simclr writes only regular "
                                   "files (give a file path)",
                                   path, kind_of(st.st_mode)),
                       0);
    }
    std::lock_guard<std::mutex> lock(g_inputs_mutex);
    const auto it = g_inputs.find({st.st_dev, st.st_ino});
    struct stat input {};
    // The input must still be that file: a deleted one's inode number can be
    // reused by a new, unrelated file.
    if (it != g_inputs.end() && ::stat(it->second.first.c_str(), &input) == 0 && input.st_dev == st.st_dev &&
        input.st_ino == st.st_ino) {
      throw WriteError(fmt::format("refusing to write '{}': it is {} ('{}') that this command reads; give another "
                                   "output path",
                                   path, it->second.second, it->second.first),
                       0);
    }
  }
  return target;
}

[[noreturn]] void fail(const std::string& path, int error_number, uint64_t needed, bool existed, const fs::path& dir,
                       const std::string& during) {
  std::string message = fmt::format("{} while writing '{}'", io::describe_write_errno(error_number), path);
  if (error_number == ENOSPC || error_number == EDQUOT) {
    message += fmt::format(" (needed {}{})", megabytes(needed), free_space(dir));
  } else if (!during.empty()) {
    message += fmt::format(" ({})", during);
  }
  message += existed ? fmt::format("; the previous '{}' is intact", path) : "; nothing was written";
  if (error_number == ENOSPC || error_number == EDQUOT) message += "; free some space and run the command again";
  if (error_number == EROFS || error_number == EACCES || error_number == EPERM) {
    message += "; write to a folder you can write to";
  }
  throw WriteError(message, error_number);
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);  // best effort: some file systems cannot sync folders
  ::close(fd);
}

}  // namespace

void register_input(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  std::lock_guard<std::mutex> lock(g_inputs_mutex);
  g_inputs[{st.st_dev, st.st_ino}] = {path, what};
}

void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write,
                      const WriteOptions& options) {
  const fs::path target = resolve_target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  SIMCLR_CHECK(fs::is_directory(dir), "cannot write '{}': folder '{}' does not exist; create it or give another path",
               path, dir.string());
  remove_stale_temporaries(dir);
  const bool existed = fs::exists(target);
  const fs::path tmp = dir / ("." + target.filename().string() + kTempMarker + std::to_string(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, errno, 0, existed, dir, "creating its temporary file");
  struct Cleanup {  // the temporary never outlives a failure
    const fs::path& tmp;
    int fd;
    bool keep = false;
    ~Cleanup() {
      if (fd >= 0) ::close(fd);
      if (!keep) ::unlink(tmp.c_str());
    }
  } cleanup{tmp, fd};
  CheckedFdBuf buf(fd);
  {
    std::ostream stream(&buf);
    write(stream);
    stream.flush();
  }
  buf.flush_all();
  if (buf.error() != 0) fail(path, buf.error(), buf.bytes(), existed, dir, "");
  if (::fsync(fd) != 0) fail(path, errno, buf.bytes(), existed, dir, "flushing it to disk");
  const int close_result = ::close(cleanup.fd);
  cleanup.fd = -1;
  if (close_result != 0) fail(path, errno, buf.bytes(), existed, dir, "closing it");
  if (existed && !options.keep_previous_as.empty()) {
    const fs::path previous = dir / fs::path(options.keep_previous_as).filename();
    const fs::path link_tmp = dir / ("." + previous.filename().string() + kTempMarker + std::to_string(::getpid()));
    ::unlink(link_tmp.c_str());
    if (::link(target.c_str(), link_tmp.c_str()) != 0 || ::rename(link_tmp.c_str(), previous.c_str()) != 0) {
      const int e = errno;
      ::unlink(link_tmp.c_str());
      fail(path, e, 0, existed, dir, fmt::format("keeping the previous version as '{}'", previous.string()));
    }
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) fail(path, errno, 0, existed, dir, "renaming its temporary file");
  cleanup.keep = true;
  fsync_dir(dir);
}

void write_text_atomically(const std::string& path, const std::string& text) {
  write_atomically(path, [&](std::ostream& out) { out.write(text.data(), static_cast<std::streamsize>(text.size())); });
}

AppendFile::AppendFile(const std::string& path) : path_(path) {
  const fs::path target = resolve_target(path);
  fd_ = ::open(target.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) {
    throw WriteError(fmt::format("cannot append to '{}': {}", path, io::describe_write_errno(errno)), errno);
  }
}

AppendFile::AppendFile(AppendFile&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) { other.fd_ = -1; }

AppendFile& AppendFile::operator=(AppendFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::append(const std::string& text) {
  SIMCLR_CHECK(fd_ >= 0, "internal: append to a closed file");
  struct stat st {};
  const off_t before = ::fstat(fd_, &st) == 0 ? st.st_size : -1;
  const char* data = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t w = ::write(fd_, data, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int e = w < 0 ? errno : ENOSPC;
      if (before >= 0 && ::ftruncate(fd_, before) != 0) {
        // The torn tail stays; readers drop a line that does not parse.
      }
      std::string message = fmt::format("{} while appending to '{}'", io::describe_write_errno(e), path_);
      if (e == ENOSPC || e == EDQUOT) message += free_space(fs::path(path_).parent_path().empty() ? "." : fs::path(path_).parent_path());
      throw WriteError(message + "; the lines written before are intact", e);
    }
    data += w;
    left -= static_cast<size_t>(w);
  }
}

}  // namespace simclr
