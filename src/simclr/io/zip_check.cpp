#include "simclr/io/zip_check.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "simclr/core/error.h"

namespace simclr::io {

// Where the bytes come from: a file read with pread, or memory.
struct ZipArchive::Source {
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly n bytes at offset; the caller has checked the range.
  virtual void read(uint64_t offset, void* dst, size_t n) const = 0;
};

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50, kLocator64Sig = 0x07064b50;
constexpr size_t kEndSize = 22, kLocator64Size = 20, kEnd64Size = 56, kCentralSize = 46, kLocalSize = 30;
// Deflate codes at most 258 bytes in 2 bits: it cannot expand by more than
// 1032x; the constant term covers the block headers of tiny records.
constexpr uint64_t kDeflateMaxRatio = 1032, kDeflateMaxSlack = 1024;
constexpr uint64_t kMaxCentralDirectory = uint64_t{512} << 20;
constexpr size_t kChunk = size_t{1} << 20;

class FileSource : public ZipArchive::Source {
 public:
  FileSource(const std::string& path, const std::string& what) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    SIMCLR_CHECK(fd_ >= 0, "cannot open {} '{}': {}", what, path, std::strerror(errno));
    const off_t end = ::lseek(fd_, 0, SEEK_END);
    if (end < 0) {
      const int err = errno;
      ::close(fd_);
      throw Error(fmt::format("cannot read {} '{}': {}", what, path, std::strerror(err)));
    }
    size_ = static_cast<uint64_t>(end);
  }
  ~FileSource() override { ::close(fd_); }
  uint64_t size() const override { return size_; }
  void read(uint64_t offset, void* dst, size_t n) const override {
    auto* out = static_cast<char*>(dst);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      SIMCLR_CHECK(got > 0, "cannot read '{}' at byte {}: {} (was the file changed while it was read?)", path_,
                   offset, got < 0 ? std::strerror(errno) : "unexpected end of file");
      out += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<size_t>(got);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

class MemorySource : public ZipArchive::Source {
 public:
  explicit MemorySource(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  uint64_t size() const override { return bytes_.size(); }
  void read(uint64_t offset, void* dst, size_t n) const override {
    if (offset > bytes_.size() || n > bytes_.size() - offset) throw std::logic_error("zip read out of range");
    if (n > 0) std::memcpy(dst, bytes_.data() + offset, n);
  }

 private:
  std::vector<uint8_t> bytes_;
};

// Little-endian fields of a structure already in memory; reading past its
// end is a bug in this file, not bad input (every length is checked first).
class Fields {
 public:
  Fields(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  uint64_t le(size_t bytes) {
    if (bytes > n_ - pos_ || pos_ > n_) throw std::logic_error("zip field read out of range");
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p_[pos_ + i]) << (8 * i);
    pos_ += bytes;
    return v;
  }
  uint16_t u16() { return static_cast<uint16_t>(le(2)); }
  uint32_t u32() { return static_cast<uint32_t>(le(4)); }
  uint64_t u64() { return le(8); }
  void skip(size_t bytes) {
    if (bytes > n_ - pos_) throw std::logic_error("zip field skip out of range");
    pos_ += bytes;
  }
  size_t pos() const { return pos_; }

 private:
  const uint8_t* p_;
  size_t n_, pos_ = 0;
};

std::string fix_for(const std::string& what) {
  if (what == "checkpoint") return "resume from the previous checkpoint with --resume-previous or retrain";
  if (what == "exported module") return "export it again with 'simclr export'";
  if (what == "weights file") {
    return "save the weights again with torch.save(model.state_dict(), f) or torch.jit.save (PyTorch >= 1.6)";
  }
  return "write the file again";
}

// The zip64 extended-information extra field (id 1) replaces, in this order,
// those of (size, compressed size, offset) whose 32-bit field is 0xffffffff.
// Returns false when a needed value is missing.
bool apply_zip64_extra(const uint8_t* extra, size_t n, uint64_t* size, uint64_t* csize, uint64_t* offset) {
  const bool need[3] = {size && *size == 0xffffffffu, csize && *csize == 0xffffffffu,
                        offset && *offset == 0xffffffffu};
  if (!need[0] && !need[1] && !need[2]) return true;
  Fields f(extra, n);
  while (n - f.pos() >= 4) {
    const uint16_t id = f.u16(), len = f.u16();
    if (len > n - f.pos()) return false;
    if (id != 1) {
      f.skip(len);
      continue;
    }
    Fields z(extra + f.pos(), len);
    uint64_t* targets[3] = {size, csize, offset};
    for (int i = 0; i < 3; ++i) {
      if (!need[i]) continue;
      if (len - z.pos() < 8) return false;
      *targets[i] = z.u64();
    }
    return true;
  }
  return false;
}

}  // namespace

ZipArchive::ZipArchive(const std::string& path, const std::string& what)
    : ZipArchive(std::make_shared<FileSource>(path, what), path, what) {}

ZipArchive::ZipArchive(std::shared_ptr<const Source> source, const std::string& path, const std::string& what)
    : source_(std::move(source)), path_(path), what_(what) {
  parse();
}

ZipArchive ZipArchive::in_memory(std::vector<uint8_t> bytes, const std::string& name, const std::string& what) {
  return ZipArchive(std::make_shared<MemorySource>(std::move(bytes)), name, what);
}

uint64_t ZipArchive::file_size() const { return source_->size(); }

const ZipRecord* ZipArchive::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &records_[it->second];
}

void ZipArchive::corrupt(const std::string& problem) const {
  throw Error(fmt::format("{} '{}' is corrupt: {}; {}", what_, path_, problem, fix_for(what_)));
}

void ZipArchive::parse() {
  const uint64_t size = source_->size();
  auto not_zip = [&](const std::string& why) {
    throw Error(fmt::format("{} '{}' is not a zip archive, the format torch.save, torch.jit.save and simclr write "
                            "({}); {}",
                            what_, path_, why, fix_for(what_)));
  };
  SIMCLR_CHECK(size > 0, "{} '{}' is empty (truncated to 0 bytes); {}", what_, path_, fix_for(what_));
  uint8_t magic[4] = {0, 0, 0, 0};
  source_->read(0, magic, std::min<uint64_t>(size, 4));
  // A file cut anywhere keeps the start of its first local header.
  const uint8_t local_magic[4] = {'P', 'K', 3, 4};
  const bool starts_like_zip =
      std::memcmp(magic, local_magic, static_cast<size_t>(std::min<uint64_t>(size, 4))) == 0;
  auto truncated = [&](const std::string& why) {
    throw Error(fmt::format("{} '{}' is truncated ({} bytes; {}): the write or the copy was cut short, or its end is "
                            "damaged; {}",
                            what_, path_, size, why, fix_for(what_)));
  };

  // End of central directory: the last 22 bytes, or before a comment.
  const size_t tail_size = static_cast<size_t>(std::min<uint64_t>(size, kEndSize + 0xffff));
  std::vector<uint8_t> tail(tail_size);
  source_->read(size - tail_size, tail.data(), tail_size);
  size_t end_pos = SIZE_MAX;  // in tail
  for (size_t p = tail_size >= kEndSize ? tail_size - kEndSize + 1 : 0; p-- > 0;) {
    if (Fields(tail.data() + p, 4).u32() != kEndSig) continue;
    const size_t comment = Fields(tail.data() + p + 20, 2).u16();
    if (p + kEndSize + comment == tail_size) {
      end_pos = p;
      break;
    }
  }
  if (end_pos == SIZE_MAX) {
    if (starts_like_zip) truncated("no end-of-archive record");
    not_zip("no zip signature");
  }
  const uint64_t end_offset = size - tail_size + end_pos;
  Fields e(tail.data() + end_pos, kEndSize);
  e.skip(4);
  uint64_t disk = e.u16(), cd_disk = e.u16(), disk_entries = e.u16(), entries = e.u16();
  uint64_t cd_size = e.u32(), cd_offset = e.u32();
  uint64_t cd_end_limit = end_offset;  // where the central directory must end

  // zip64: a locator right before the record above points at a zip64 end
  // record, whose 64-bit fields replace the saturated 32-bit ones.
  if (end_offset >= kLocator64Size) {
    uint8_t loc[kLocator64Size];
    source_->read(end_offset - kLocator64Size, loc, kLocator64Size);
    Fields l(loc, kLocator64Size);
    if (l.u32() == kLocator64Sig) {
      const uint32_t end64_disk = l.u32();
      const uint64_t end64_offset = l.u64();
      const uint32_t disks = l.u32();
      if (end64_disk != 0 || disks > 1) corrupt("it spans several disks");
      const uint64_t locator_offset = end_offset - kLocator64Size;
      if (end64_offset > locator_offset || locator_offset - end64_offset < kEnd64Size) {
        corrupt("its zip64 end record lies outside the file");
      }
      uint8_t rec[kEnd64Size];
      source_->read(end64_offset, rec, kEnd64Size);
      Fields z(rec, kEnd64Size);
      if (z.u32() != kEnd64Sig) corrupt("its zip64 end record is damaged");
      const uint64_t record_size = z.u64();
      if (record_size < kEnd64Size - 12 || record_size > locator_offset - end64_offset - 12) {
        corrupt("its zip64 end record has a wrong size");
      }
      z.skip(4);  // versions
      const uint64_t disk64 = z.u32(), cd_disk64 = z.u32(), disk_entries64 = z.u64(), entries64 = z.u64();
      const uint64_t cd_size64 = z.u64(), cd_offset64 = z.u64();
      auto agree = [&](uint64_t narrow, uint64_t wide, uint64_t saturated) {
        return narrow == saturated || narrow == wide;
      };
      if (!agree(disk, disk64, 0xffff) || !agree(cd_disk, cd_disk64, 0xffff) ||
          !agree(disk_entries, disk_entries64, 0xffff) || !agree(entries, entries64, 0xffff) ||
          !agree(cd_size, cd_size64, 0xffffffff) || !agree(cd_offset, cd_offset64, 0xffffffff)) {
        corrupt("its zip64 end record disagrees with the end-of-archive record");
      }
      disk = disk64, cd_disk = cd_disk64, disk_entries = disk_entries64, entries = entries64;
      cd_size = cd_size64, cd_offset = cd_offset64;
      cd_end_limit = end64_offset;
    }
  }
  if (disk != 0 || cd_disk != 0 || disk_entries != entries) corrupt("it spans several disks");
  if (cd_offset > cd_end_limit || cd_size != cd_end_limit - cd_offset) {
    if (cd_offset > cd_end_limit || cd_size > cd_end_limit - cd_offset) {
      truncated(fmt::format("its directory of records claims bytes {}..{}", cd_offset, cd_offset + cd_size));
    }
    corrupt("its directory of records does not end where the end-of-archive record begins");
  }
  if (entries > kMaxZipRecords || entries > cd_size / kCentralSize) {
    corrupt(fmt::format("it claims {} records in a directory of {} bytes", entries, cd_size));
  }
  if (cd_size > kMaxCentralDirectory) corrupt(fmt::format("its directory of records is {} bytes", cd_size));

  std::vector<uint8_t> cd(static_cast<size_t>(cd_size));
  source_->read(cd_offset, cd.data(), cd.size());
  records_.clear();
  index_.clear();
  records_.reserve(static_cast<size_t>(entries));
  uint64_t inflated_total = 0;
  size_t pos = 0;
  for (uint64_t i = 0; i < entries; ++i) {
    if (cd.size() - pos < kCentralSize) corrupt(fmt::format("its directory ends inside record {}", i));
    Fields c(cd.data() + pos, kCentralSize);
    if (c.u32() != kCentralSig) corrupt(fmt::format("directory entry {} is damaged (bad signature)", i));
    c.skip(4);  // versions
    const uint16_t flags = c.u16(), method = c.u16();
    c.skip(4);  // time, date
    ZipRecord r;
    r.method = method;
    r.crc32 = c.u32();
    r.compressed_size = c.u32();
    r.size = c.u32();
    const size_t name_len = c.u16(), extra_len = c.u16(), comment_len = c.u16();
    const uint16_t start_disk = c.u16();
    c.skip(6);  // attributes
    r.header_offset = c.u32();
    pos += kCentralSize;
    if (cd.size() - pos < name_len + extra_len + comment_len) {
      corrupt(fmt::format("its directory ends inside record {}", i));
    }
    r.name.assign(reinterpret_cast<const char*>(cd.data() + pos), name_len);
    if (!apply_zip64_extra(cd.data() + pos + name_len, extra_len, &r.size, &r.compressed_size, &r.header_offset)) {
      corrupt(fmt::format("record {} ('{}') lacks the zip64 sizes it announces", i, r.name));
    }
    pos += name_len + extra_len + comment_len;
    if (r.name.empty() || r.name.find('\0') != std::string::npos) {
      corrupt(fmt::format("directory entry {} has an invalid name", i));
    }
    if (index_.count(r.name)) corrupt(fmt::format("two records are named '{}'", r.name));
    if (start_disk != 0 && start_disk != 0xffff) corrupt("it spans several disks");
    if (flags & 0x41) corrupt(fmt::format("record '{}' is encrypted", r.name));
    if (method == 0) {
      if (r.compressed_size != r.size) {
        corrupt(fmt::format("stored record '{}' declares {} bytes stored as {}", r.name, r.size, r.compressed_size));
      }
    } else if (method == 8) {
      if (r.compressed_size > UINT64_MAX / kDeflateMaxRatio ||
          r.size > r.compressed_size * kDeflateMaxRatio + kDeflateMaxSlack) {
        corrupt(fmt::format("deflated record '{}' declares {} bytes from {} compressed, more than deflate can "
                            "produce",
                            r.name, r.size, r.compressed_size));
      }
    } else {
      corrupt(fmt::format("record '{}' uses compression method {} (only stored and deflate are read)", r.name,
                          method));
    }
    if (r.header_offset > cd_offset || cd_offset - r.header_offset < kLocalSize ||
        r.compressed_size > cd_offset - r.header_offset - kLocalSize) {
      truncated(fmt::format("record '{}' claims bytes beyond the data area", r.name));
    }
    // Each term is at most 1032x the file's size now, so this cannot wrap.
    if (method == 8) inflated_total += r.size;
    if (inflated_total > kMaxInflateRatio * size + kInflateSlack) {
      corrupt(fmt::format("its deflated records declare {} bytes or more in all, far more than a file of {} bytes "
                          "can justify (a zip bomb?)",
                          inflated_total, size));
    }
    index_.emplace(r.name, records_.size());
    records_.push_back(std::move(r));
  }
  if (pos != cd.size()) corrupt("its directory of records has bytes after the last record");

  // Local headers: they must agree with the directory, and the records must
  // follow one another without overlapping.
  std::vector<size_t> order(records_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return records_[a].header_offset < records_[b].header_offset; });
  uint64_t previous_end = 0;
  std::string previous_name;
  std::vector<uint8_t> header;
  for (size_t i : order) {
    ZipRecord& r = records_[i];
    if (r.header_offset < previous_end) {
      corrupt(fmt::format("records '{}' and '{}' overlap", previous_name, r.name));
    }
    const uint64_t room = cd_offset - r.header_offset;  // >= kLocalSize, checked above
    header.resize(kLocalSize);
    source_->read(r.header_offset, header.data(), kLocalSize);
    const size_t variable = Fields(header.data() + 26, 4).u16() + size_t{Fields(header.data() + 28, 2).u16()};
    header.resize(kLocalSize + static_cast<size_t>(std::min<uint64_t>(room - kLocalSize, variable)));
    source_->read(r.header_offset + kLocalSize, header.data() + kLocalSize, header.size() - kLocalSize);
    Fields l(header.data(), header.size());
    if (l.u32() != kLocalSig) corrupt(fmt::format("the header of record '{}' is damaged (bad signature)", r.name));
    l.skip(2);  // version
    const uint16_t flags = l.u16(), method = l.u16();
    l.skip(4);
    const uint32_t crc = l.u32();
    uint64_t csize = l.u32(), usize = l.u32();
    const size_t name_len = l.u16(), extra_len = l.u16();
    if (header.size() - kLocalSize < name_len + extra_len) {
      truncated(fmt::format("the header of record '{}' runs past the data area", r.name));
    }
    if (std::string(reinterpret_cast<const char*>(header.data() + kLocalSize), name_len) != r.name) {
      corrupt(fmt::format("the header of record '{}' names another record", r.name));
    }
    if (method != r.method || (flags & 0x41)) {
      corrupt(fmt::format("the header of record '{}' disagrees with the directory", r.name));
    }
    if (!(flags & 0x08)) {  // no data descriptor: the header holds CRC and sizes
      apply_zip64_extra(header.data() + kLocalSize + name_len, extra_len, &usize, &csize, nullptr);
      if (crc != r.crc32 || csize != r.compressed_size || usize != r.size) {
        corrupt(fmt::format("the header of record '{}' disagrees with the directory", r.name));
      }
    }
    r.data_offset = r.header_offset + kLocalSize + name_len + extra_len;
    if (r.compressed_size > cd_offset - r.data_offset) {
      truncated(fmt::format("record '{}' claims bytes beyond the data area", r.name));
    }
    previous_end = r.data_offset + r.compressed_size;
    previous_name = r.name;
  }
}

template <typename Sink>
void ZipArchive::stream(const ZipRecord& record, Sink&& sink) const {
  std::vector<uint8_t> in(static_cast<size_t>(std::min<uint64_t>(record.compressed_size, kChunk)));
  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t done = 0;  // bytes of output
  if (record.method == 0) {
    for (uint64_t at = 0; at < record.size;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(record.size - at, in.size()));
      source_->read(record.data_offset + at, in.data(), n);
      crc = crc32_z(crc, in.data(), n);
      sink(in.data(), n, done);
      at += n;
      done += n;
    }
  } else {
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw std::bad_alloc();
    struct End {
      z_stream* z;
      ~End() { inflateEnd(z); }
    } end{&z};
    std::vector<uint8_t> out(kChunk / 4);
    uint64_t read = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      if (z.avail_in == 0) {
        if (read == record.compressed_size) {
          corrupt(fmt::format("deflated record '{}' is damaged: its data ends early", record.name));
        }
        const size_t n = static_cast<size_t>(std::min<uint64_t>(record.compressed_size - read, in.size()));
        source_->read(record.data_offset + read, in.data(), n);
        read += n;
        z.next_in = in.data();
        z.avail_in = static_cast<uInt>(n);
      }
      z.next_out = out.data();
      z.avail_out = static_cast<uInt>(out.size());
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        corrupt(fmt::format("deflated record '{}' is damaged ({})", record.name, z.msg ? z.msg : "inflate failed"));
      }
      const size_t n = out.size() - z.avail_out;
      if (rc == Z_BUF_ERROR && n == 0 && z.avail_in > 0) {
        corrupt(fmt::format("deflated record '{}' is damaged (inflate makes no progress)", record.name));
      }
      if (n > record.size - done) {
        corrupt(fmt::format("deflated record '{}' is damaged: it inflates to more than the {} bytes it declares",
                            record.name, record.size));
      }
      crc = crc32_z(crc, out.data(), n);
      sink(out.data(), n, done);
      done += n;
    }
    if (done != record.size) {
      corrupt(fmt::format("deflated record '{}' is damaged: it inflates to {} bytes, not the {} it declares",
                          record.name, done, record.size));
    }
  }
  if (crc != record.crc32) {
    corrupt(fmt::format("record '{}' fails its CRC check (the file was damaged after it was written)", record.name));
  }
}

void ZipArchive::verify() const {
  for (const auto& r : records_) stream(r, [](const uint8_t*, size_t, uint64_t) {});
}

void ZipArchive::read_into(const ZipRecord& record, void* dst) const {
  auto* out = static_cast<uint8_t*>(dst);
  // stream() never hands over more than record.size bytes in all.
  stream(record, [&](const uint8_t* p, size_t n, uint64_t at) {
    if (n > 0) std::memcpy(out + at, p, n);
  });
}

std::vector<uint8_t> ZipArchive::read(const ZipRecord& record) const {
  std::vector<uint8_t> out(static_cast<size_t>(record.size));
  read_into(record, out.data());
  return out;
}

std::vector<std::string> verify_zip(const std::string& path, const std::string& what) {
  ZipArchive zip(path, what);
  zip.verify();
  std::vector<std::string> names;
  names.reserve(zip.records().size());
  for (const auto& r : zip.records()) names.push_back(r.name);
  return names;
}

}  // namespace simclr::io
