// Replays every input in fuzz/corpus/ through the fuzz targets (the seeds
// from fuzz/make_seeds.py and every input libFuzzer kept or found crashing),
// so a reader change that brings back an old crash fails the ordinary tests.
// Also runs each target on systematic damage of the seeds: every truncation
// length near the record boundaries and single-byte corruptions of headers.
#include "fuzz_targets.h"

#include <filesystem>

#include "test_util.h"

namespace simclr::fuzz {
namespace {
namespace fs = std::filesystem;
using Target = int (*)(const uint8_t*, size_t);

std::vector<std::vector<uint8_t>> corpus(const std::string& target) {
  std::vector<std::vector<uint8_t>> out;
  const fs::path dir = fs::path(SIMCLR_SOURCE_DIR) / "fuzz" / "corpus" / target;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    out.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  return out;
}

void replay(const std::string& name, Target target) {
  const auto inputs = corpus(name);
  ASSERT_GE(inputs.size(), 2u) << "fuzz/corpus/" << name << " is missing: run python3 fuzz/make_seeds.py";
  for (const auto& input : inputs) {
    target(input.data(), input.size());
    // Truncations: every length in the first 64 bytes and around the end.
    for (size_t n = 0; n < std::min<size_t>(input.size(), 64); ++n) target(input.data(), n);
    for (size_t cut = 1; cut < std::min<size_t>(input.size(), 64); ++cut) target(input.data(), input.size() - cut);
    // Header bytes set to 0x00, 0x7f and 0xff one at a time.
    for (size_t i = 0; i < std::min<size_t>(input.size(), 24); ++i) {
      for (uint8_t v : {0x00, 0x7f, 0xff}) {
        auto damaged = input;
        damaged[i] = v;
        target(damaged.data(), damaged.size());
      }
    }
  }
}

TEST(FuzzCorpus, IdxReaderSurvivesItsCorpus) { replay("idx", fuzz_idx); }
TEST(FuzzCorpus, CifarReaderSurvivesItsCorpus) { replay("cifar", fuzz_cifar); }
TEST(FuzzCorpus, Stl10ReaderSurvivesItsCorpus) { replay("stl10", fuzz_stl10); }
TEST(FuzzCorpus, StateDictReaderSurvivesItsCorpus) { replay("state_dict", fuzz_state_dict); }

TEST(FuzzCorpus, SeedsAreValidDatasets) {
  // The seeds (fuzz/make_seeds.py) must open cleanly, or the fuzzer starts
  // from nothing useful.
  for (const char* name : {"cifar10", "cifar100"}) {
    std::ifstream in(fs::path(SIMCLR_SOURCE_DIR) / "fuzz/corpus/cifar" / name, std::ios::binary);
    const std::vector<uint8_t> s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(s.size(), 1u) << name;
    const auto path = write_file("seed.bin", s.data() + 1, s.size() - 1);
    EXPECT_EQ(data::CifarDataset({path}, static_cast<data::CifarLabel>(s[0])).size(), 2u) << name;
  }
  // Every state-dict seed (torch.save output, or its pickle) loads.
  for (const auto& entry : fs::directory_iterator(fs::path(SIMCLR_SOURCE_DIR) / "fuzz/corpus/state_dict")) {
    const auto name = entry.path().filename().string();
    if (name.rfind("pickle-", 0) != 0 && name.rfind("zip-", 0) != 0) continue;  // libFuzzer's own finds
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<uint8_t> s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::map<std::string, torch::Tensor> sd;
    EXPECT_NO_THROW(sd = state_dict_of(s.data(), s.size())) << name;
    EXPECT_FALSE(sd.empty()) << name;
  }
}

}  // namespace
}  // namespace simclr::fuzz
