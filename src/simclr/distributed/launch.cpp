#include "simclr/distributed/launch.h"

#include <fmt/format.h>

#include <cstdlib>
#include <vector>

#include "simclr/core/error.h"

namespace simclr::distributed {
namespace {

int parse_int(const EnvLookup& env, const char* name, int min_value) {
  const char* text = env(name);
  SIMCLR_CHECK(text != nullptr && *text != '\0', "environment variable {} is not set; the launcher must set it "
               "together with the others of a distributed run (see `simclr pretrain --help`)", name);
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  SIMCLR_CHECK(end != text && *end == '\0' && v >= min_value && v <= 1 << 20,
               "environment variable {}='{}' is not an integer >= {}", name, text, min_value);
  return static_cast<int>(v);
}

int parse_int_or(const EnvLookup& env, const char* name, int min_value, int fallback) {
  const char* text = env(name);
  return text != nullptr && *text != '\0' ? parse_int(env, name, min_value) : fallback;
}

// Tasks on this node. Slurm writes the per-node counts compactly: "2(x3),1"
// is 2 tasks on each of the first 3 nodes and 1 on the fourth; this node is
// SLURM_NODEID in that list. srun always sets SLURM_STEP_TASKS_PER_NODE.
int slurm_tasks_on_this_node(const EnvLookup& env, int fallback) {
  const char* text = nullptr;
  for (const char* name : {"SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE", "SLURM_NTASKS_PER_NODE"}) {
    if (env(name) != nullptr && *env(name) != '\0') {
      text = env(name);
      break;
    }
  }
  if (text == nullptr) return fallback;
  std::vector<int> counts;
  const std::string list = text;
  size_t pos = 0;
  while (pos < list.size()) {
    size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    const std::string item = list.substr(pos, end - pos);
    char* after = nullptr;
    const long count = std::strtol(item.c_str(), &after, 10);
    long repeat = 1;
    if (after && std::string(after).rfind("(x", 0) == 0) repeat = std::strtol(after + 2, nullptr, 10);
    for (long i = 0; i < repeat && count >= 1; ++i) counts.push_back(static_cast<int>(count));
    pos = end + 1;
  }
  const int node = parse_int_or(env, "SLURM_NODEID", 0, 0);
  return node < static_cast<int>(counts.size()) ? counts[static_cast<size_t>(node)] : fallback;
}

}  // namespace

std::string LaunchInfo::describe() const {
  if (!distributed()) return "single process";
  return fmt::format("rank {} of {} (local {} of {}), rendezvous {}:{} from {}", rank, world_size, local_rank,
                     local_world_size, master_addr, master_port, launcher == "slurm" ? "Slurm" : "RANK/WORLD_SIZE");
}

std::string first_slurm_host(const std::string& nodelist) {
  // The first entry ends at a comma outside brackets.
  std::string first;
  int depth = 0;
  for (char c : nodelist) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
    first += c;
  }
  const auto open = first.find('[');
  if (open == std::string::npos) return first;
  // prefix[003-005,7]suffix -> prefix003suffix: the range's first number keeps its zero padding.
  const auto close = first.find(']', open);
  SIMCLR_CHECK(close != std::string::npos, "malformed Slurm node list '{}'", nodelist);
  std::string range = first.substr(open + 1, close - open - 1);
  range = range.substr(0, range.find_first_of(",-"));
  return first.substr(0, open) + range + first.substr(close + 1);
}

LaunchInfo detect_launch(const EnvLookup& env) {
  LaunchInfo info;
  auto set = [&](const char* name) {
    const char* v = env(name);
    return v != nullptr && *v != '\0';
  };
  if (set("RANK") || set("WORLD_SIZE")) {
    info.launcher = "env";
    info.rank = parse_int(env, "RANK", 0);
    info.world_size = parse_int(env, "WORLD_SIZE", 1);
    info.local_rank = parse_int_or(env, "LOCAL_RANK", 0, info.rank);
    info.local_world_size = parse_int_or(env, "LOCAL_WORLD_SIZE", 1, info.world_size);
    const char* agent_store = env("TORCHELASTIC_USE_AGENT_STORE");
    info.launcher_hosts_store = agent_store != nullptr && std::string(agent_store) == "True";
    info.restart = parse_int_or(env, "TORCHELASTIC_RESTART_COUNT", 0, 0);
  } else if (set("SLURM_PROCID") && set("SLURM_NTASKS")) {
    info.launcher = "slurm";
    info.rank = parse_int(env, "SLURM_PROCID", 0);
    info.world_size = parse_int(env, "SLURM_NTASKS", 1);
    info.local_rank = parse_int_or(env, "SLURM_LOCALID", 0, 0);
    info.local_world_size = slurm_tasks_on_this_node(env, info.world_size);
    if (!set("MASTER_ADDR")) {
      const char* nodes = set("SLURM_STEP_NODELIST") ? env("SLURM_STEP_NODELIST") : env("SLURM_JOB_NODELIST");
      SIMCLR_CHECK(nodes != nullptr && *nodes != '\0',
                   "Slurm launch: neither MASTER_ADDR nor SLURM_STEP_NODELIST/SLURM_JOB_NODELIST is set, so rank 0's "
                   "host is unknown; export MASTER_ADDR=<first node> in the batch script");
      info.master_addr = first_slurm_host(nodes);
    }
    // Jobs sharing a node must not share a port: derive it from the job id.
    if (!set("MASTER_PORT") && set("SLURM_JOB_ID")) {
      info.master_port = 20000 + parse_int(env, "SLURM_JOB_ID", 0) % 20000;
    }
  } else {
    return info;
  }
  SIMCLR_CHECK(info.rank < info.world_size, "rank {} is not below the world size {} ({})", info.rank, info.world_size,
               info.launcher == "slurm" ? "SLURM_PROCID, SLURM_NTASKS" : "RANK, WORLD_SIZE");
  SIMCLR_CHECK(info.local_rank < info.local_world_size || info.launcher == "slurm",
               "LOCAL_RANK {} is not below LOCAL_WORLD_SIZE {}", info.local_rank, info.local_world_size);
  if (set("MASTER_ADDR")) info.master_addr = env("MASTER_ADDR");
  if (set("MASTER_PORT")) info.master_port = parse_int(env, "MASTER_PORT", 1);
  SIMCLR_CHECK(info.master_port <= 65535, "MASTER_PORT {} is not a TCP port (1-65535)", info.master_port);
  if (info.world_size > 1 && info.launcher == "env") {
    SIMCLR_CHECK(set("MASTER_ADDR") || info.local_world_size == info.world_size,
                 "MASTER_ADDR is not set: with ranks on several machines every rank must be told rank 0's address "
                 "(torchrun sets it; by hand export MASTER_ADDR and MASTER_PORT)");
  }
  return info;
}

}  // namespace simclr::distributed
