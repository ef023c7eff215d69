// Bad luck, as the program meets it: a disk that fills up while each kind of
// file is written, kill -9 at random moments, two processes on one run,
// resumes that would change the run, signals in every phase. Each case runs
// the real `simclr` program and checks what a user would see (the exit
// code, a message naming the file and the cause) and that nothing already
// saved was lost.
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "simclr/core/interrupt.h"
#include "simclr/serialize/checkpoint.h"
#include "test_util.h"

namespace simclr {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;
using testing::write_toy_idx;

struct Result {
  int code = -1;  // exit code, 128 + signal when killed, -1 on timeout
  std::string output;
  double seconds = 0;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A running `simclr ARGS` with extra environment, output in a log file.
class Process {
 public:
  Process(const std::string& args, const std::vector<std::pair<std::string, std::string>>& env,
          const std::string& log)
      : log_(log), start_(std::chrono::steady_clock::now()) {
    pid_ = ::fork();
    if (pid_ == 0) {
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      const std::string cmd = "exec " + std::string(SIMCLR_CLI_PATH) + " " + args + " >" + log + " 2>&1 </dev/null";
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  pid_t pid() const { return pid_; }
  void signal(int s) const { ::kill(pid_, s); }
  Result wait(double timeout_seconds = 300) {
    Result r;
    int status = 0;
    while (true) {
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      if (done == pid_) break;
      if (r.seconds > timeout_seconds) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        r.output = slurp(log_);
        return r;  // code -1: it hung
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.output = slurp(log_);
    return r;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  std::chrono::steady_clock::time_point start_;
};

Result run(const std::string& args, const std::vector<std::pair<std::string, std::string>>& env = {}) {
  static int n = 0;
  const std::string log = (fs::temp_directory_path() / ("simclr-fault-" + std::to_string(::getpid()) + "-" +
                                                         std::to_string(n++) + ".log"))
                              .string();
  Process p(args, env, log);
  auto r = p.wait();
  fs::remove(log);
  return r;
}

// The environment that makes the disk "fill up" after `bytes` bytes written
// to files whose path contains `pattern`.
std::vector<std::pair<std::string, std::string>> disk_full(const std::string& pattern, long long bytes) {
  // Under AddressSanitizer its runtime must come first (scripts/test-sanitized.sh).
  const char* asan = std::getenv("SIMCLR_ASAN_RUNTIME");
  const std::string preload = (asan && *asan ? std::string(asan) + ":" : std::string()) + SIMCLR_WRITE_FAULT_SHIM;
  return {{"LD_PRELOAD", preload},
          {"SIMCLR_FAULT_PATH", pattern},
          {"SIMCLR_FAULT_AFTER_BYTES", std::to_string(bytes)}};
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

int temporaries_in(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += has(e.path().filename().string(), ".simclr-tmp.");
  return n;
}

// The toy dataset and a pretraining command line for it (12 px, width 4,
// single-threaded: fast and the same on every machine).
struct Toy {
  TempDir data, dir;
  Toy() { write_toy_idx(data.str(), 96, 32); }
  std::string pretrain(const std::string& out, const std::string& extra = "") const {
    return "pretrain --out " + out + " --data " + data.str() +
           " --dataset mnist --width 4 --model.head_dim 16 --batch-size 16 --threads 1 --data.workers 1 "
           "--precision fp32 --train.log_every_seconds 1000 --augment.color_p 0 " +
           extra;
  }
  // A resume as users type it: the run directory and what changes.
  static std::string resume(const std::string& out, const std::string& extra) {
    return "pretrain --out " + out + " --resume --threads 1 --data.workers 1 " + extra;
  }
};

void expect_no_crash(const Result& r) {
  EXPECT_FALSE(has(r.output, "terminate called")) << r.output;
  EXPECT_FALSE(has(r.output, "internal error")) << r.output;
  EXPECT_NE(r.code, -1) << "hung:\n" << r.output;
  EXPECT_LT(r.code, 128) << "killed by a signal:\n" << r.output;
}

// Each kind of file simclr writes, with the disk full part-way through it:
// exit 1, a message naming the file and "disk full", the previous version
// intact and no temporary left behind.
TEST(FaultInjection, DiskFullWhileWritingEachKindOfFileLosesNothing) {
  Toy toy;
  const std::string run_dir = toy.dir / "run";
  ASSERT_EQ(run(toy.pretrain(run_dir, "--steps 4 --train.checkpoint_every 2")).code, 0);
  const std::string enc = toy.dir / "enc.pt", npy = toy.dir / "e.npy", png = toy.dir / "p.png";
  const std::string ckpt = run_dir + "/checkpoint.pt";
  ASSERT_EQ(run("export --checkpoint " + run_dir + " --out " + enc).code, 0);
  ASSERT_EQ(run("embed --checkpoint " + run_dir + " --out " + npy).code, 0);
  ASSERT_EQ(run("augment-preview --data " + toy.data.str() + " --dataset mnist --images 2 --views 2 --out " + png).code,
            0);
  ASSERT_EQ(run("linear-eval --checkpoint " + run_dir + " --eval.max_iter 5 --eval.weight_decays 0 --threads 1").code,
            0);

  struct Case {
    std::string name, args, pattern, file, message;
    long long bytes;  // < 0: the file's present size + |bytes| (room to rewrite it, then a line)
  };
  const std::string resume = toy.pretrain(run_dir, "--resume --steps 8 --train.checkpoint_every 2");
  const std::vector<Case> cases = {
      {"checkpoint", resume, "checkpoint.pt", ckpt, "checkpoint of step 6 not saved: disk full while writing", 20000},
      {"metrics", resume, "metrics.jsonl", run_dir + "/metrics.jsonl", "disk full while appending", -250},
      {"config", resume, "config.yaml", run_dir + "/config.yaml", "disk full while writing", 100},
      {"export", "export --checkpoint " + run_dir + " --out " + enc, "enc.pt", enc, "disk full while writing", 5000},
      {"embeddings", "embed --checkpoint " + run_dir + " --out " + npy, "e.npy", npy, "disk full while writing", 100},
      {"embedding index", "embed --checkpoint " + run_dir + " --out " + npy, "e.index.csv",
       toy.dir / "e.index.csv", "disk full while writing", 50},
      {"preview", "augment-preview --data " + toy.data.str() + " --dataset mnist --images 2 --views 2 --out " + png,
       "p.png", png, "disk full while writing", 100},
      {"eval result", "linear-eval --checkpoint " + run_dir + " --eval.max_iter 5 --eval.weight_decays 0 --threads 1",
       "linear_eval.json", run_dir + "/linear_eval.json", "disk full while writing", 10},
  };
  const std::string initial_metrics = slurp(run_dir + "/metrics.jsonl");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    // Each case starts from the run at step 4 (a failed case may have logged steps past it).
    std::ofstream(run_dir + "/metrics.jsonl", std::ios::trunc) << initial_metrics;
    const std::string before = slurp(c.file);
    ASSERT_FALSE(before.empty());
    const long long bytes = c.bytes < 0 ? static_cast<long long>(before.size()) - c.bytes : c.bytes;
    const auto r = run(c.args, disk_full(c.pattern, bytes));
    expect_no_crash(r);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(has(r.output, c.message)) << r.output;
    EXPECT_TRUE(has(r.output, c.file.substr(c.file.rfind('/') + 1))) << r.output;
    EXPECT_EQ(temporaries_in(toy.dir.str()), 0);
    if (c.name == "metrics") {
      // Appends failed after the file was rewritten: the lines before are
      // whole, the message points at the intact checkpoint.
      EXPECT_TRUE(has(r.output, "its checkpoint of step 4")) << r.output;
      std::ifstream in(c.file);
      std::string line;
      while (std::getline(in, line)) EXPECT_NO_THROW(nlohmann::json::parse(line)) << line;
    } else {
      EXPECT_EQ(slurp(c.file), before);  // the previous version, byte for byte
    }
    if (c.name == "checkpoint" || c.name == "config") {
      EXPECT_NO_THROW(serialize::CheckpointReader{ckpt});
      EXPECT_EQ(serialize::CheckpointReader(ckpt).state().step, 4);
    }
  }
  // And the run continues once there is space again.
  const auto r = run(resume);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(serialize::CheckpointReader(ckpt).state().step, 8);
}

// A real full disk where the machine lets the test mount one (root): a
// tmpfs of 1 MB holds two checkpoints of the toy model and fills up on the
// third. Skipped elsewhere; the shim above covers every machine.
TEST(FaultInjection, RealFullTmpfsKeepsTheLastCheckpoint) {
  Toy toy;
  const std::string mnt = toy.dir / "small-disk";
  fs::create_directories(mnt);
  if (::geteuid() != 0 || ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here";
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const auto r = run(toy.pretrain(mnt + "/run", "--steps 200 --train.checkpoint_every 1"));
  expect_no_crash(r);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "disk full while")) << r.output;
  EXPECT_EQ(temporaries_in(mnt), 0);
  serialize::CheckpointReader reader(mnt + "/run");
  EXPECT_GE(reader.state().step, 1);
}

// kill -9 at 20 random moments (0-800 ms after a process's first step) of a
// run that checkpoints every step; after
// each, --resume. The run still ends at its budget with every step once in
// metrics.jsonl, and evaluates.
TEST(FaultInjection, KillNineAtRandomMomentsThenResumeToTheEnd) {
  Toy toy;
  const std::string run_dir = toy.dir / "run";
  const int steps = 1000;
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> delay_ms(0, 800);
  int kills_after_a_checkpoint = 0;
  for (int k = 0; k < 20; ++k) {
    const bool resume = fs::exists(run_dir + "/checkpoint.pt");
    Process p(toy.pretrain(run_dir, fmt::format("--steps {} --train.checkpoint_every 1{}", steps,
                                                resume ? " --resume" : "")),
              {}, toy.dir / "log");
    // Kill a random moment after this process's first step: a slow start
    // (a sanitizer build) must not turn every kill into one before training.
    const auto size_before = slurp(run_dir + "/metrics.jsonl").size();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (slurp(run_dir + "/metrics.jsonl").size() == size_before && ::kill(p.pid(), 0) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    p.signal(SIGKILL);
    const auto r = p.wait();
    if (r.code == 0) break;  // it finished before the kill
    kills_after_a_checkpoint += fs::exists(run_dir + "/checkpoint.pt");
  }
  EXPECT_GE(kills_after_a_checkpoint, 10);
  const auto r = run(toy.pretrain(run_dir, fmt::format("--steps {} --resume", steps)));
  ASSERT_TRUE(r.code == 0) << r.output;
  EXPECT_EQ(serialize::CheckpointReader(run_dir).state().step, steps);
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string line;
  std::vector<int> seen(steps + 1, 0);
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) ++seen.at(j["step"].get<size_t>());
  }
  for (int s = 1; s <= steps; ++s) EXPECT_EQ(seen[s], 1) << "step " << s;
  EXPECT_EQ(temporaries_in(run_dir), 0);  // the killed processes' temporaries are gone
  const auto eval = run("linear-eval --checkpoint " + run_dir + " --eval.max_iter 5 --eval.weight_decays 0 --threads 1");
  EXPECT_EQ(eval.code, 0) << eval.output;
}

// A second process on a run directory stops at once, naming the first; the
// first then stops on SIGTERM with a checkpoint and exit code 143.
TEST(FaultInjection, SecondProcessOnARunIsRefusedAndSigtermCheckpoints) {
  Toy toy;
  const std::string run_dir = toy.dir / "run";
  Process first(toy.pretrain(run_dir, "--steps 1000000"), {}, toy.dir / "first.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (slurp(run_dir + "/metrics.jsonl").empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (const bool resume : {false, true}) {
    const auto second = run(toy.pretrain(run_dir, resume ? "--steps 10 --resume" : "--steps 10"));
    EXPECT_EQ(second.code, 1) << second.output;
    EXPECT_TRUE(has(second.output, "is in use by another simclr process")) << second.output;
    EXPECT_TRUE(has(second.output, "pid " + std::to_string(first.pid()))) << second.output;
    EXPECT_LT(second.seconds, 30);
  }
  first.signal(SIGTERM);
  const auto r = first.wait(60);
  EXPECT_EQ(r.code, 143) << r.output;
  EXPECT_TRUE(has(r.output, "interrupted at step")) << r.output;
  EXPECT_GE(serialize::CheckpointReader(run_dir).state().step, 1);
  // The lock died with its holder.
  EXPECT_EQ(run(toy.pretrain(run_dir, "--steps 1 --resume --allow-change all")).code, 0);
}

// --resume with each kind of change: refused before any file changes, or
// accepted and recorded. A finished run with no more budget changes nothing.
TEST(FaultInjection, ResumeRefusesChangesThatBreakTheRunAndChangesNothing) {
  Toy toy;
  const std::string run_dir = toy.dir / "run";
  ASSERT_EQ(run(toy.pretrain(run_dir, "--steps 4 --train.checkpoint_every 2")).code, 0);
  auto snapshot = [&] {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::directory_iterator(run_dir)) {
      // The lock file holds its last holder's pid: informative, not run state.
      if (e.is_regular_file() && e.path().filename() != ".simclr.lock") {
        files[e.path().filename().string()] = slurp(e.path().string());
      }
    }
    return files;
  };
  const auto before = snapshot();
  struct Case {
    std::string option, message;
  };
  const std::vector<Case> refused = {
      {"--width 8", "model.width 8"},
      {"--arch resnet34", "model.arch resnet34"},
      {"--model.stem imagenet", "model.stem imagenet"},
      {"--model.head_dim 32", "model.head_dim 32"},
      {"--model.head_layers 3", "model.head_layers 3"},
      {"--data /tmp", "data.path /tmp"},
      {"--dataset fashion-mnist", "data.dataset fashion-mnist"},
      {"--augment.image_size 16", "augment.image_size 16"},
      {"--batch-size 32", "--allow-change train.batch_size"},
      {"--optim.lr_base 1.0", "--allow-change optim.lr_base"},
      {"--temperature 0.3", "--allow-change loss.temperature"},
      {"--augment.crop_scale_min 0.5", "--allow-change augment.crop_scale_min"},
      {"--seed 3", "--allow-change train.seed"},
  };
  for (const auto& c : refused) {
    SCOPED_TRACE(c.option);
    const auto r = run(Toy::resume(run_dir, "--steps 6 " + c.option));
    expect_no_crash(r);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(has(r.output, c.message)) << r.output;
    EXPECT_TRUE(snapshot() == before) << "a refused resume changed a file";
  }
  // The architecture can never change, not even when asked.
  EXPECT_EQ(run(Toy::resume(run_dir, "--steps 6 --width 8 --allow-change all")).code, 1);
  EXPECT_TRUE(snapshot() == before);
  // No more budget: says so, exit 0, no file touched.
  const auto complete = run(Toy::resume(run_dir, ""));
  EXPECT_EQ(complete.code, 0) << complete.output;
  EXPECT_TRUE(has(complete.output, "is complete")) << complete.output;
  EXPECT_TRUE(snapshot() == before);
  // An allowed change of meaning is recorded in resumes.jsonl.
  const auto allowed = run(Toy::resume(run_dir, "--steps 6 --optim.lr_base 1.0 --allow-change optim.lr_base"));
  EXPECT_EQ(allowed.code, 0) << allowed.output;
  EXPECT_TRUE(has(slurp(run_dir + "/resumes.jsonl"), "\"optim.lr_base\":{\"after\":\"1\",\"before\":\""))
      << slurp(run_dir + "/resumes.jsonl");
  // A plain resume with a longer budget continues.
  EXPECT_EQ(run(Toy::resume(run_dir, "--steps 8")).code, 0);
  EXPECT_EQ(serialize::CheckpointReader(run_dir).state().step, 8);
}

// A damaged latest checkpoint: every command refuses it naming the file;
// --resume-previous continues from the one before it.
TEST(FaultInjection, DamagedCheckpointIsRefusedAndThePreviousResumes) {
  Toy toy;
  const std::string run_dir = toy.dir / "run";
  ASSERT_EQ(run(toy.pretrain(run_dir, "--steps 4 --train.checkpoint_every 2")).code, 0);
  const std::string ckpt = run_dir + "/checkpoint.pt";
  std::string bytes = slurp(ckpt);
  for (size_t i : {bytes.size() / 3, bytes.size() / 2}) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  std::ofstream(ckpt, std::ios::binary | std::ios::trunc) << bytes;
  for (const std::string& args : {toy.pretrain(run_dir, "--resume --steps 6"),
                                  "linear-eval --checkpoint " + run_dir, "export --checkpoint " + run_dir +
                                  " --out " + toy.dir / "e.pt", "info " + run_dir}) {
    SCOPED_TRACE(args);
    const auto r = run(args);
    expect_no_crash(r);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(has(r.output, ckpt)) << r.output;
    EXPECT_TRUE(has(r.output, "CRC")) << r.output;
  }
  EXPECT_EQ(slurp(ckpt), bytes);  // never re-saved
  const auto r = run(toy.pretrain(run_dir, "--resume-previous --steps 6"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(serialize::CheckpointReader(ckpt).state().step, 6);
}

// Ctrl-C or SIGTERM in each phase of each command: exit 130 or 143 within
// seconds, a checkpoint where there is training state, nothing half-written.
TEST(FaultInjection, SignalsInEveryPhaseStopCleanly) {
  Toy toy;
  const std::string run_dir = toy.dir / "run";
  ASSERT_EQ(run(toy.pretrain(run_dir, "--steps 2")).code, 0);
  const std::string grid = toy.dir / "grid.yaml";
  std::ofstream(grid) << "name: g\nset: {data.path: " << toy.data.str()
                      << ", data.dataset: mnist, model.width: 4, train.batch_size: 16, train.steps: 2, "
                         "train.threads: 1, train.precision: fp32, eval.max_iter: 5, eval.weight_decays: '0'}\n"
                         "seeds: [0]\neval_layers: [h]\naxis: model.head_layers\nvalues: [0, 2]\n";
  struct Case {
    std::string args, phase;
  };
  const std::string eval = "linear-eval --checkpoint " + run_dir + " --eval.max_iter 5 --eval.weight_decays 0 "
                           "--eval.cache_features false --threads 1";
  const std::vector<Case> cases = {
      {toy.pretrain(toy.dir / "p1", "--steps 50"), "start-up"},
      {toy.pretrain(toy.dir / "p2", "--steps 50"), "data"},
      {toy.pretrain(toy.dir / "p3", "--steps 50"), "model"},
      {toy.pretrain(toy.dir / "p4", "--steps 50"), "training"},
      {eval, "data"},
      {eval, "model"},
      {eval, "features"},
      {eval, "probe"},
      {"export --checkpoint " + run_dir + " --out " + toy.dir / "e.pt", "export"},
      {"ablate --grid " + grid + " --out " + toy.dir / "ablation", "ablation"},
  };
  for (const char* which : {"INT", "TERM"}) {
    for (const auto& c : cases) {
      SCOPED_TRACE(std::string(which) + " at " + c.phase + ": " + c.args);
      const auto r = run(c.args, {{"SIMCLR_FAULT_SIGNAL_AT", c.phase}, {"SIMCLR_FAULT_SIGNAL", which}});
      EXPECT_EQ(r.code, std::string(which) == "INT" ? 130 : 143) << r.output;
      EXPECT_LT(r.seconds, 60);
      EXPECT_FALSE(has(r.output, "terminate called")) << r.output;
      if (c.phase == "training") {
        EXPECT_TRUE(has(r.output, "interrupted at step 1; checkpoint saved")) << r.output;
        EXPECT_EQ(serialize::CheckpointReader(toy.dir / "p4").state().step, 1);
        fs::remove_all(toy.dir / "p4");
      }
      EXPECT_EQ(temporaries_in(toy.dir.str()), 0);
    }
  }
  EXPECT_FALSE(fs::exists(toy.dir / "e.pt"));  // an interrupted export writes nothing
  // A real Ctrl-C moments after start, as a user gives it (and as a shell
  // that started us in the background would have ignored before).
  Process p(toy.pretrain(toy.dir / "p5", "--steps 100000"), {}, toy.dir / "p5.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  p.signal(SIGINT);
  const auto r = p.wait(30);
  EXPECT_EQ(r.code, 130) << r.output;
}

// A dead peer's socket (or a closed pipe on stdout) must be an error the
// command reports, not SIGPIPE killing it silently with exit 141: a surviving
// rank has to name the dead one and point to --resume. In a child process,
// so the handlers stay out of this one.
TEST(FaultInjection, AWriteToAClosedPipeIsAnErrorNotASilentDeath) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    install_interrupt_handlers();
    int ends[2];
    if (::pipe(ends) != 0) ::_exit(3);
    ::close(ends[0]);
    const char byte = 'x';
    const bool epipe = ::write(ends[1], &byte, 1) < 0 && errno == EPIPE;
    ::_exit(epipe ? 0 : 2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_FALSE(WIFSIGNALED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Outputs never replace one of the command's own inputs, nor a device node.
TEST(FaultInjection, OutputsNeverReplaceInputsOrDevices) {
  Toy toy;
  const std::string run_dir = toy.dir / "run";
  ASSERT_EQ(run(toy.pretrain(run_dir, "--steps 2")).code, 0);
  const std::string ckpt = run_dir + "/checkpoint.pt";
  const std::string before = slurp(ckpt);
  auto r = run("export --checkpoint " + run_dir + " --out " + ckpt);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "that this command reads")) << r.output;
  EXPECT_EQ(slurp(ckpt), before);
  // Another name of the same file (a hard link) is the same input.
  fs::create_hard_link(ckpt, toy.dir / "alias.pt");
  EXPECT_EQ(run("export --checkpoint " + run_dir + " --out " + toy.dir / "alias.pt").code, 1);
  EXPECT_EQ(slurp(ckpt), before);
  r = run("export --checkpoint " + run_dir + " --out /dev/null");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "character device")) << r.output;
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  // A symbolic link is written through: the file it points to is replaced.
  std::ofstream(toy.dir / "target.pt") << "old";
  fs::create_symlink(toy.dir / "target.pt", toy.dir / "link.pt");
  EXPECT_EQ(run("export --checkpoint " + run_dir + " --out " + toy.dir / "link.pt").code, 0);
  EXPECT_TRUE(fs::is_symlink(toy.dir / "link.pt"));
  EXPECT_NE(slurp(toy.dir / "target.pt"), "old");
}

}  // namespace
}  // namespace simclr
