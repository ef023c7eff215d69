// Who this process is in a data-parallel job, read from the environment the
// launcher sets, the way torch.distributed's env:// rendezvous reads it:
//
//   torchrun --nproc_per_node=2 --no_python simclr pretrain ...
//       RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
//   srun --ntasks=2 simclr pretrain ...
//       SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NODEID,
//       SLURM_STEP_TASKS_PER_NODE (tasks on each node, e.g. "2(x3),1"),
//       SLURM_STEP_NODELIST / SLURM_JOB_NODELIST (first host = rank 0's),
//       SLURM_JOB_ID (picks MASTER_PORT unless it is set)
//   RANK=0 WORLD_SIZE=2 MASTER_ADDR=... MASTER_PORT=... simclr pretrain ...
//
// RANK/WORLD_SIZE win over Slurm's variables (torchrun inside an srun step
// sets both). With neither, the process runs alone and needs nothing.
#pragma once
#include <functional>
#include <string>

namespace simclr::distributed {

struct LaunchInfo {
  std::string launcher = "single";  // single | env (torchrun or by hand) | slurm
  int rank = 0, world_size = 1;
  int local_rank = 0, local_world_size = 1;  // processes on this machine
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // torchrun's agent already serves a store at MASTER_ADDR:MASTER_PORT
  // (TORCHELASTIC_USE_AGENT_STORE=True): every rank joins it as a client.
  bool launcher_hosts_store = false;
  int restart = 0;  // TORCHELASTIC_RESTART_COUNT: keys of a restarted job stay apart

  bool distributed() const { return world_size > 1; }
  std::string describe() const;
};

// A lookup of one environment variable; nullptr when unset (as std::getenv).
using EnvLookup = std::function<const char*(const char*)>;

// Reads the launch variables; throws simclr::Error naming the variable when
// one is malformed or missing (e.g. RANK without WORLD_SIZE, RANK >= WORLD_SIZE).
LaunchInfo detect_launch(const EnvLookup& env = [](const char* name) { return std::getenv(name); });

// The first host of a Slurm node list: "node[003-005,7],gpu1" -> "node003".
std::string first_slurm_host(const std::string& nodelist);

}  // namespace simclr::distributed
