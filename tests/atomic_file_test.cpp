#include "simclr/io/atomic_file.h"

#include <unistd.h>

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
                                [](std::ostream& out) {
                                  out << "half";
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

TEST(AtomicFile, RefusesTargetsThatAreNotRegularFiles) {
  TempDir dir;
  std::filesystem::create_directories(dir / "folder");
  for (const std::string& target : {std::string("/dev/null"), dir / "folder"}) {
    const std::string message = testing::error_of([&] { write_text_atomically(target, "x"); });
    EXPECT_NE(message.find("not a regular file"), std::string::npos) << message;
  }
  EXPECT_TRUE(std::filesystem::is_directory(dir / "folder"));
}

TEST(AtomicFile, KeepsThePreviousVersionWhenAsked) {
  TempDir dir;
  write_text_atomically(dir / "c", "one");
  write_atomically(dir / "c", [](std::ostream& out) { out << "two"; }, {"c.previous"});
  EXPECT_EQ(read(dir / "c"), "two");
  EXPECT_EQ(read(dir / "c.previous"), "one");
}

TEST(AtomicFile, RemovesTemporariesOfDeadProcesses) {
  TempDir dir;
  // pid 2^22 + 1 is beyond Linux's pid_max default: no such process.
  std::ofstream(dir / ".x.simclr-tmp.4194305") << "left by kill -9";
  std::ofstream(dir / (".y.simclr-tmp." + std::to_string(::getppid()))) << "a live process's";
  write_text_atomically(dir / "x", "new");
  EXPECT_FALSE(std::filesystem::exists(dir / ".x.simclr-tmp.4194305"));
  EXPECT_TRUE(std::filesystem::exists(dir / (".y.simclr-tmp." + std::to_string(::getppid()))));
}

TEST(AtomicFile, RefusesToReplaceARegisteredInput) {
  TempDir dir;
  write_text_atomically(dir / "in", "input");
  register_input(dir / "in", "the test input");
  const std::string message = testing::error_of([&] { write_text_atomically(dir / "in", "x"); });
  EXPECT_NE(message.find("the test input"), std::string::npos) << message;
  EXPECT_EQ(read(dir / "in"), "input");
}

TEST(AtomicFile, AppendAddsWholeLines) {
  TempDir dir;
  write_text_atomically(dir / "m", "a\n");
  AppendFile f(dir / "m");
  f.append("b\n");
  f.append("c\n");
  EXPECT_EQ(read(dir / "m"), "a\nb\nc\n");
}

}  // namespace
}  // namespace simclr
