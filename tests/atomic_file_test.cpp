#include "simclr/io/atomic_file.h"

#include "simclr/core/error.h"
#include "test_util.h"

namespace simclr {
namespace {
using testing::TempDir;

std::string read(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(AtomicFile, ReplacesTheFileWhole) {
  TempDir dir;
  write_text_atomically(dir / "a.txt", "first");
  write_text_atomically(dir / "a.txt", "second");
  EXPECT_EQ(read(dir / "a.txt"), "second");
}

TEST(AtomicFile, AFailedWriteLeavesTheOldFileAndNoTemporary) {
  TempDir dir;
  write_text_atomically(dir / "ckpt", "good");
  EXPECT_THROW(write_atomically(dir / "ckpt",
                                [](const std::string& tmp) {
                                  std::ofstream(tmp) << "half";
                                  throw Error("disk full");
                                }),
               Error);
  EXPECT_EQ(read(dir / "ckpt"), "good");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.str())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(AtomicFile, UnwritableFolderIsAnErrorNamingIt) {
  try {
    write_text_atomically("/nonexistent/dir/file.json", "x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir"), std::string::npos);
  }
}

}  // namespace
}  // namespace simclr
