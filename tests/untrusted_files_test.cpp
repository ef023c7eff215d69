// Readers of untrusted model files: the zip checks every checkpoint, export
// and weights file passes (io/zip_check.h), and the state-dict reader
// (io/state_dict_reader.h) behind --model.init_weights. Damaged files must be
// refused with their path and what is wrong; hostile ones (deep nesting, zip
// bombs, tensors outside their storage) with an error, never a crash or an
// allocation far beyond the file's size.
#include <sys/resource.h>
#include <zlib.h>

#include "fuzz_targets.h"  // make_zip, state_dict_of
#include "simclr/models/resnet.h"
#include "simclr/serialize/checkpoint.h"
#include "simclr/io/state_dict_reader.h"
#include "simclr/serialize/torchscript_export.h"
#include "simclr/io/zip_check.h"
#include "simclr/serialize/weight_import.h"
#include "simclr/train/pretrain.h"
#include "test_util.h"

namespace simclr {
namespace {
namespace fs = std::filesystem;
using fuzz::make_zip;
using fuzz::ZipItem;
using testing::error_of;
using testing::TempDir;
using namespace std::string_literals;

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_all(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}
bool has(const std::string& message, const std::string& part) { return message.find(part) != std::string::npos; }

// One tiny pretraining run for the whole suite: its checkpoint and an export.
class UntrustedFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    fs::create_directories(*dir_ / "data");
    testing::write_toy_idx(*dir_ / "data", 64, 8);
    auto config = testing::toy_config(*dir_ / "data");
    config.train.steps = 1;
    train::pretrain(config, *dir_ / "run", false);
    serialize::CheckpointReader reader(*dir_ / "run");
    auto model = models::build_model(reader.config().model, 1, 12);
    reader.load_model(model);
    model->eval();
    serialize::ExportInfo info;
    info.input_size = 12;
    info.input_channels = 1;
    serialize::export_torchscript(model, info, /*with_head=*/false, *dir_ / "enc.pt");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string checkpoint() { return *dir_ / "run/checkpoint.pt"; }
  static std::string exported() { return *dir_ / "enc.pt"; }

  // A copy of `from` with `n` bytes flipped, spread over the data of its
  // largest record (chosen by the predicate).
  static std::string damaged_copy(const std::string& from, int n, const std::string& to,
                                  const std::function<bool(const io::ZipRecord&)>& which = nullptr) {
    const io::ZipArchive zip(from, "file");
    const io::ZipRecord* target = nullptr;
    for (const auto& r : zip.records()) {
      if ((!which || which(r)) && (!target || r.compressed_size > target->compressed_size)) target = &r;
    }
    EXPECT_TRUE(target && target->compressed_size >= 16);
    auto bytes = read_all(from);
    for (int i = 0; i < n; ++i) {
      bytes[target->data_offset + (i + 1) * target->compressed_size / (n + 1)] ^= 0x5a;
    }
    const std::string path = *dir_ / to;
    write_all(path, bytes);
    return path;
  }

  static TempDir* dir_;
};
TempDir* UntrustedFiles::dir_ = nullptr;

TEST_F(UntrustedFiles, UntrustedValidFilesPassTheChecks) {
  const auto names = io::verify_zip(checkpoint(), "checkpoint");
  EXPECT_FALSE(names.empty());
  EXPECT_NO_THROW(serialize::CheckpointReader reader(checkpoint()));
  EXPECT_FALSE(io::verify_zip(exported(), "exported module").empty());
  EXPECT_EQ(serialize::read_export_info(exported())["input"]["size"], 12);
}

TEST_F(UntrustedFiles, UntrustedCheckpointWithFlippedBytesFailsItsCrc) {
  for (int n : {1, 2, 8}) {
    const auto path = damaged_copy(checkpoint(), n, "flipped" + std::to_string(n) + ".pt");
    const auto msg = error_of([&] { serialize::CheckpointReader reader(path); });
    EXPECT_TRUE(has(msg, "'" + path + "'")) << msg;
    EXPECT_TRUE(has(msg, "CRC")) << msg;
    EXPECT_TRUE(has(msg, "--resume-previous")) << msg;
  }
}

TEST_F(UntrustedFiles, UntrustedTruncatedCheckpointSaysTruncated) {
  const auto bytes = read_all(checkpoint());
  for (size_t length : {size_t{0}, size_t{3}, size_t{100}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 100,
                        bytes.size() - 23, bytes.size() - 1}) {
    const std::string path = *dir_ / "cut.pt";
    write_all(path, {bytes.begin(), bytes.begin() + length});
    const auto msg = error_of([&] { serialize::CheckpointReader reader(path); });
    EXPECT_TRUE(has(msg, "truncated")) << length << ": " << msg;
    EXPECT_TRUE(has(msg, path)) << msg;
  }
}

TEST_F(UntrustedFiles, UntrustedExportWithAFlippedByteIsRefused) {
  // In a tensor's (stored) data: the CRC; in the (deflated) code: the CRC or
  // the inflater finds it.
  for (const bool code : {false, true}) {
    const auto path = damaged_copy(exported(), 1, code ? "code.pt" : "data.pt",
                                   [&](const io::ZipRecord& r) { return (r.method == 8) == code; });
    const auto msg = error_of([&] { serialize::read_export_info(path); });
    EXPECT_TRUE(has(msg, path)) << msg;
    EXPECT_TRUE(has(msg, "CRC") || has(msg, "damaged")) << msg;
    EXPECT_TRUE(has(msg, "simclr export")) << msg;
  }
}

TEST_F(UntrustedFiles, UntrustedExportImportsAsTorchScriptWeights) {
  // Recognised by its records (code/, constants.pkl), read by torch::jit::load.
  serialize::CheckpointReader reader(checkpoint());
  auto model = models::build_model(reader.config().model, 1, 12);
  const auto report = serialize::import_encoder_weights(model->encoder, exported());
  EXPECT_EQ(report.format, "TorchScript");
  EXPECT_GT(report.tensors, 0);
  const auto path = damaged_copy(exported(), 1, "weights.pt");
  EXPECT_TRUE(has(error_of([&] { serialize::import_encoder_weights(model->encoder, path); }), "CRC"));
}

// Pickle bytes, protocol 2, for hand-made state dicts.
struct Pickle {
  std::string b = "\x80\x02";
  Pickle& op(const std::string& s) { b += s; return *this; }
  Pickle& str(const std::string& s) {
    b += 'X';
    for (int i = 0; i < 4; ++i) b += static_cast<char>(s.size() >> (8 * i));
    b += s;
    return *this;
  }
  Pickle& integer(int64_t v) {  // LONG1, 8 bytes
    b += "\x8a\x08";
    for (int i = 0; i < 8; ++i) b += static_cast<char>(static_cast<uint64_t>(v) >> (8 * i));
    return *this;
  }
  Pickle& global(const std::string& module, const std::string& name) { return op("c" + module + "\n" + name + "\n"); }
  Pickle& ints(const std::vector<int64_t>& v) {
    op("(");
    for (const int64_t x : v) integer(x);
    return op("t");
  }
  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
  Pickle& tensor(const std::string& type, const std::string& key, int64_t offset, const std::vector<int64_t>& size,
                 const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").op("(").op("(").str("storage").global("torch", type).str(key);
    str("cpu").integer(16).op("tQ");
    integer(offset).ints(size).ints(stride).op("\x89");
    return global("collections", "OrderedDict").op(")R").op("tR");
  }
};

// A torch.save-like file: the pickle and storages data/0 (16 floats) and
// data/1 (6 bytes).
std::string state_dict_file(const std::string& path, const std::string& pickle) {
  std::string floats(64, '\0');
  for (int i = 0; i < 16; ++i) {
    const float f = static_cast<float>(i);
    std::memcpy(&floats[4 * i], &f, 4);
  }
  write_all(path, make_zip({{"archive/data.pkl", pickle},
                            {"archive/data/0", floats},
                            {"archive/data/1", "abcdef"},
                            {"archive/version", "3\n"}}));
  return path;
}

std::string one_tensor(const std::string& type, const std::string& key, int64_t offset,
                       const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
  return Pickle().op("}(").str("w").tensor(type, key, offset, size, stride).op("u.").b;
}

TEST(UntrustedStateDict, UntrustedHandMadeStateDictLoads) {
  // The reference for the hostile variants below.
  TempDir dir;
  const auto sd = io::read_torch_save_state_dict(
      state_dict_file(dir / "ok.pt", one_tensor("FloatStorage", "0", 2, {2, 3}, {1, 2})));
  ASSERT_EQ(sd.count("w"), 1u);
  EXPECT_TRUE(torch::equal(sd.at("w"), torch::tensor({{2.f, 4.f, 6.f}, {3.f, 5.f, 7.f}})));
  const auto empty = io::read_torch_save_state_dict(
      state_dict_file(dir / "empty.pt", one_tensor("FloatStorage", "0", 0, {0, 5}, {5, 1})));
  EXPECT_EQ(empty.at("w").sizes(), (std::vector<int64_t>{0, 5}));
}

TEST(UntrustedStateDict, UntrustedTensorOutsideItsStorageIsRefused) {
  TempDir dir;
  const int64_t big = int64_t{1} << 62;
  struct Case {
    int64_t offset;
    std::vector<int64_t> size, stride;
    const char* why;
  };
  for (const Case& c : std::vector<Case>{{0, {17}, {1}, "reaches beyond"},
                                         {15, {2}, {1}, "reaches beyond"},
                                         {0, {4, 5}, {5, 1}, "reaches beyond"},
                                         {0, {big, big}, {1, 1}, "more elements"},
                                         {0, {2}, {big}, "reaches beyond"},
                                         {0, {3, 3}, {big, big}, "reaches beyond"},
                                         {0, {1000}, {0}, "more elements"},
                                         {0, {-1}, {1}, "negative"},
                                         {0, {2}, {-1}, "negative"},
                                         {-1, {2}, {1}, "starts before"},
                                         {17, {0}, {1}, "starts after"}}) {
    const auto path = state_dict_file(dir / "t.pt", one_tensor("FloatStorage", "0", c.offset, c.size, c.stride));
    const auto msg = error_of([&] { io::read_torch_save_state_dict(path); });
    EXPECT_TRUE(has(msg, c.why)) << c10::IntArrayRef(c.size) << c10::IntArrayRef(c.stride) << ": " << msg;
  }
  // Storage sizes must be whole elements; unknown storage types and missing
  // records are refused.
  EXPECT_TRUE(has(error_of([&] {
                    io::read_torch_save_state_dict(
                        state_dict_file(dir / "odd.pt", one_tensor("FloatStorage", "1", 0, {1}, {1})));
                  }),
                  "not a whole number"));
  EXPECT_TRUE(has(error_of([&] {
                    io::read_torch_save_state_dict(
                        state_dict_file(dir / "type.pt", one_tensor("QUInt8Storage", "0", 0, {1}, {1})));
                  }),
                  "unsupported tensor storage type"));
  EXPECT_TRUE(has(error_of([&] {
                    io::read_torch_save_state_dict(
                        state_dict_file(dir / "missing.pt", one_tensor("FloatStorage", "7", 0, {1}, {1})));
                  }),
                  "missing"));
}

TEST(UntrustedStateDict, UntrustedDeepNestingIsRefusedWithoutACrash) {
  TempDir dir;
  const int n = 100000;
  const std::string lists = "\x80\x02" + std::string(n, ']') + std::string(n - 1, 'a') + ".";
  const std::string tuples = "\x80\x02]" + std::string(n, '\x85') + ".";
  const std::string marks = "\x80\x02" + [&] {
    std::string s;
    for (int i = 0; i < n; ++i) s += "]";
    for (int i = 0; i < n; ++i) s += "(";
    return s;
  }() + ".";
  for (const auto& pickle : {lists, tuples}) {
    const auto path = state_dict_file(dir / "deep.pt", pickle);
    EXPECT_TRUE(has(error_of([&] { io::read_torch_save_state_dict(path); }), "deep"));
    // The same through --model.init_weights.
    auto encoder = models::ResNet(models::ResNetOptions("resnet18").width(4).in_channels(1));
    const auto msg = error_of([&] { serialize::import_encoder_weights(encoder, path); });
    EXPECT_TRUE(has(msg, "deep") && has(msg, path)) << msg;
  }
  EXPECT_FALSE(error_of([&] { io::read_torch_save_state_dict(state_dict_file(dir / "m.pt", marks)); }).empty());
  // Changing a list after it went into another, and a list inside itself,
  // are what a depth count alone would miss.
  const std::string later = "\x80\x02]q\x00]h\x00" "a" "h\x00]" "a" "."s;
  const std::string itself = "\x80\x02]q\x00h\x00" "a" "."s;
  for (const auto& pickle : {later, itself}) {
    EXPECT_TRUE(has(error_of([&] { io::read_torch_save_state_dict(state_dict_file(dir / "c.pt", pickle)); }),
                    "malformed pickle"));
  }
}

long max_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// Raw deflate of `chunks` MiB of zeros, made cheaply: one MiB compressed with
// a sync flush (byte-aligned, not final) repeated, then an empty final block.
std::string deflated_zeros(int chunks) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  std::vector<uint8_t> zeros(1 << 20, 0), out(1 << 16);
  z.next_in = zeros.data();
  z.avail_in = static_cast<uInt>(zeros.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_SYNC_FLUSH);
  const std::string block(reinterpret_cast<char*>(out.data()), out.size() - z.avail_out);
  deflateEnd(&z);
  std::string s;
  for (int i = 0; i < chunks; ++i) s += block;
  return s + std::string("\x03\x00", 2);
}

TEST(UntrustedStateDict, UntrustedZipBombsAreRefusedWithBoundedMemory) {
  TempDir dir;
  const long rss_before = max_rss_mb();
  const uint32_t zero_crc_1m = [] {
    std::vector<uint8_t> z(1 << 20, 0);
    return static_cast<uint32_t>(crc32_z(0, z.data(), z.size()));
  }();
  auto pickle_zip = [&](ZipItem data) {
    return make_zip({{"archive/data.pkl", one_tensor("FloatStorage", "0", 0, {1}, {1})}, data});
  };
  // A few KB that declare 4 GB: more than deflate can produce.
  write_all(dir / "declares.pt", pickle_zip({"archive/data/0", deflated_zeros(4), 8, 0xfffffff0u, 0}));
  // 2 GiB, honestly declared, from 2 MB: more than the file can justify.
  write_all(dir / "honest.pt", pickle_zip({"archive/data/0", deflated_zeros(2048), 8, 0x80000000u, 0}));
  // Declares 1 MiB, inflates to 64.
  write_all(dir / "lies.pt", pickle_zip({"archive/data/0", deflated_zeros(64), 8, 1 << 20, zero_crc_1m}));
  for (const char* name : {"declares.pt", "honest.pt", "lies.pt"}) {
    const auto msg = error_of([&] { io::read_torch_save_state_dict(dir / name); });
    EXPECT_TRUE(has(msg, "deflate") || has(msg, "zip bomb") || has(msg, "more than")) << name << ": " << msg;
    EXPECT_TRUE(has(msg, dir / name)) << msg;
  }
  EXPECT_LT(max_rss_mb() - rss_before, 256) << "reading the bombs grew the peak memory";
}

TEST(UntrustedZip, UntrustedMalformedArchivesAreRefused) {
  TempDir dir;
  auto refuse = [&](const std::vector<uint8_t>& bytes, const std::string& part) {
    write_all(dir / "z.pt", bytes);
    const auto msg = error_of([&] { io::verify_zip(dir / "z.pt", "weights file"); });
    const auto bar = part.find('|');  // alternatives
    const bool named = has(msg, part.substr(0, bar)) || (bar != std::string::npos && has(msg, part.substr(bar + 1)));
    EXPECT_TRUE(named && has(msg, dir / "z.pt")) << part << ": " << msg;
  };
  refuse({'j', 'u', 'n', 'k'}, "not a zip archive");
  refuse(make_zip({{"a/x", "1"}, {"a/x", "2"}}), "two records");
  refuse(make_zip({{"a/x", "123", 12}}), "compression method 12");
  refuse(make_zip({{"a/x", "123", 0, 5}}), "stored record");
  refuse(make_zip({{"a/x", "123", 0, UINT64_MAX, 7}}), "CRC");
  // An entry count beyond what the directory holds.
  auto lie = make_zip({{"a/x", "123"}});
  lie[lie.size() - 22 + 10] = 0xff;
  lie[lie.size() - 22 + 8] = 0xff;
  refuse(lie, "claims");
  // Two directory entries pointing at one local header: overlapping records.
  auto two = make_zip({{"a/x", "123"}, {"a/y", "456"}});
  const size_t cd = two.size() - 22 - 2 * (46 + 3);
  two[cd + 46 + 3 + 42] = 0;  // a/y's local header offset -> 0
  refuse(two, "overlap|names another record");
  // Python-style deflate is read; a torch.save file from the corpus too.
  for (const char* seed : {"zip-linear", "zip-deflated"}) {
    const auto bytes = read_all(std::string(SIMCLR_SOURCE_DIR) + "/fuzz/corpus/state_dict/" + seed);
    write_all(dir / "seed.pt", {bytes.begin() + 1, bytes.end()});
    const auto sd = io::read_torch_save_state_dict(dir / "seed.pt");
    ASSERT_EQ(sd.count("weight"), 1u) << seed;
    EXPECT_EQ(sd.at("weight").sizes(), (std::vector<int64_t>{3, 2})) << seed;
  }
}

TEST(UntrustedWeights, UntrustedFormatComesFromTheRecords) {
  TempDir dir;
  auto encoder = models::ResNet(models::ResNetOptions("resnet18").width(4).in_channels(1));
  // Neither TorchScript nor torch.save.
  write_all(dir / "other.zip", make_zip({{"x/readme.txt", "hello"}}));
  auto msg = error_of([&] { serialize::import_encoder_weights(encoder, dir / "other.zip"); });
  EXPECT_TRUE(has(msg, "data.pkl") && has(msg, "other.zip")) << msg;
  // code/ without constants.pkl is not TorchScript: read as a state dict.
  write_all(dir / "sd.pt", make_zip({{"x/data.pkl", one_tensor("FloatStorage", "0", 0, {1}, {1})},
                                     {"x/code/m.py", "def f(): pass"}}));
  msg = error_of([&] { serialize::import_encoder_weights(encoder, dir / "sd.pt"); });
  EXPECT_TRUE(has(msg, "as a torch.save file") && has(msg, "missing")) << msg;
}

}  // namespace
}  // namespace simclr
