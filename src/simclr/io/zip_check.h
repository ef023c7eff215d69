// Integrity checks of the zip archives simclr reads: checkpoints, TorchScript
// exports and PyTorch weights (torch.save and torch.jit.save write zip files,
// PKWARE APPNOTE 6.3, with zip64 records). LibTorch's bundled miniz reads
// them without checking any CRC, so a damaged file would load as wrong
// weights; and it trusts the sizes a file declares. This is a small, strict
// reader of our own that every such file passes first: it checks the
// structure against the file's real size, the compression, and the CRC-32 of
// every record, and reads records with bounded memory.
//
// What is accepted: one-disk archives (zip64 or not), records stored
// (method 0, what torch writes for data) or deflated (method 8, torch's
// code/ records), no encryption, unique names, records that do not overlap.
// A deflated record may not declare more than deflate can produce (1032x its
// compressed size), and all deflated records together not more than
// kMaxInflateRatio times the file's size plus kInflateSlack bytes: so a small
// file never makes a reader allocate or inflate gigabytes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace simclr::io {

struct ZipRecord {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint32_t crc32 = 0;   // as the central directory declares it
  uint64_t compressed_size = 0;
  uint64_t size = 0;  // uncompressed
  uint64_t header_offset = 0;  // of the local header
  uint64_t data_offset = 0;    // of the first byte of data
};

constexpr uint64_t kMaxZipRecords = 1 << 20;
constexpr uint64_t kMaxInflateRatio = 256;
constexpr uint64_t kInflateSlack = uint64_t{64} << 20;

// An opened zip archive whose structure has been checked (every offset and
// size lies inside the file, local headers agree with the central directory).
// CRCs are checked by verify() (all records) and by read() (that record).
// Every error is a simclr::Error: "<what> '<path>' is corrupt: <which record,
// what is wrong>; <how to fix it>", or "... is truncated ...". `what` names
// the kind of file ("checkpoint", "exported module", "weights file"); for a
// checkpoint the fix offered is --resume-previous, otherwise writing the file
// again.
class ZipArchive {
 public:
  // Opens the file at `path`; reads only its directory.
  ZipArchive(const std::string& path, const std::string& what);
  // The same over bytes in memory (the fuzz targets); `name` stands for the
  // path in messages.
  static ZipArchive in_memory(std::vector<uint8_t> bytes, const std::string& name, const std::string& what);

  const std::string& path() const { return path_; }
  const std::string& what() const { return what_; }
  uint64_t file_size() const;
  // In the order of the central directory.
  const std::vector<ZipRecord>& records() const { return records_; }
  // nullptr when there is no record of that name.
  const ZipRecord* find(const std::string& name) const;

  // Reads every record (in chunks: memory stays small for any file size),
  // inflating deflated ones, and checks its size and CRC-32.
  void verify() const;
  // The record's `record.size` bytes, checked against its CRC-32.
  std::vector<uint8_t> read(const ZipRecord& record) const;
  // The same into dst, which must hold record.size bytes.
  void read_into(const ZipRecord& record, void* dst) const;

  // Throws "<what> '<path>' is corrupt: <problem>; <fix>".
  [[noreturn]] void corrupt(const std::string& problem) const;

  struct Source;

 private:
  ZipArchive(std::shared_ptr<const Source> source, const std::string& path, const std::string& what);
  void parse();
  template <typename Sink>
  void stream(const ZipRecord& record, Sink&& sink) const;

  std::shared_ptr<const Source> source_;
  std::string path_, what_;
  std::vector<ZipRecord> records_;
  std::unordered_map<std::string, size_t> index_;
};

// Opens and verifies (ZipArchive::verify) the zip file at `path`; returns the
// names of its records, in the order of the central directory.
std::vector<std::string> verify_zip(const std::string& path, const std::string& what);

}  // namespace simclr::io
