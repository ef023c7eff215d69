// The ranks of a data-parallel job and the collectives between them: a c10d
// process group (Gloo on CPU, NCCL on CUDA) behind a small interface that
// turns every failure into a simclr::Error naming the rank at fault.
//
// Fault detection. Gloo gives each collective a deadline (the timeout below)
// but its errors name sockets, not ranks. So every rank also publishes a
// heartbeat (a counter and its training step) to the rendezvous store once a
// second from a background thread. When a collective fails or times out, the
// rank reads the heartbeats twice: a rank whose counter stopped is dead or
// frozen; a rank that is alive but at an earlier step is stuck. If the store
// itself is gone, rank 0 (which hosts it) is the one missing. Every surviving
// rank therefore stops within about `timeout` + 3 s with the same diagnosis,
// and since only rank 0 writes checkpoints, atomically, nothing saved is lost.
#pragma once
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#include <torch/torch.h>

#include "simclr/core/torch_compat.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "simclr/distributed/launch.h"

namespace simclr::distributed {

struct CommunicatorOptions {
  std::chrono::milliseconds timeout{30000};
  std::string backend = "gloo";  // gloo | nccl
  std::chrono::milliseconds heartbeat_interval{1000};
  torch::Device device = torch::kCPU;  // where small host values travel (CUDA for NCCL)
  std::string host = "127.0.0.1";      // rank 0's address (MASTER_ADDR): picks Gloo's network device
};

// Bytes this rank moved through collectives since the last reset: the
// tensors' own sizes (payload) and what the ring algorithms Gloo and NCCL use
// send over the wire per rank: 2(W-1)/W x size for an all-reduce and (W-1) x
// the local part for an all-gather.
struct Traffic {
  int64_t payload_bytes = 0;
  int64_t sent_bytes = 0;
  int64_t collectives = 0;
};

class Communicator {
 public:
  // Rendezvous through a TCPStore at launch.master_addr:master_port (rank 0
  // hosts it) and builds the process group. Every rank must call it; it
  // fails with the missing ranks named if they do not all join in time.
  static std::shared_ptr<Communicator> connect(const LaunchInfo& launch, const CommunicatorOptions& options);

  // On an existing store (tests run ranks as threads over a HashStore).
  // `heartbeat_store` may be the same store when it is thread-safe.
  Communicator(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<c10d::Store> heartbeat_store, int rank,
               int world_size, const CommunicatorOptions& options, std::string store_address = "in-process store");
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool is_main() const { return rank_ == 0; }
  // Ranks on this machine and this one's index among them (from the
  // launcher; 1 and 0 when unknown): they share its cores and GPUs.
  int local_rank() const { return local_rank_; }
  int local_world_size() const { return local_world_size_; }
  void set_local(int local_rank, int local_world_size) {
    local_rank_ = local_rank;
    local_world_size_ = local_world_size;
  }

  // In place: the sum over ranks.
  void all_reduce_(torch::Tensor& tensor);
  // Started now, finished by wait(): lets gradient buckets overlap backward.
  c10::intrusive_ptr<c10d::Work> all_reduce_async(torch::Tensor& tensor);
  void wait(const c10::intrusive_ptr<c10d::Work>& work);
  // Sums of a few host numbers over the ranks (losses, times, flags).
  std::vector<double> sum(const std::vector<double>& values);
  // Rank 0's text on every rank.
  std::string broadcast_text(const std::string& text);
  // Every rank's tensor (equal shapes) concatenated along dim 0 in rank order.
  torch::Tensor all_gather(const torch::Tensor& tensor);
  // Rank `root`'s values into every rank's tensors (any memory format).
  void broadcast_(const std::vector<torch::Tensor>& tensors, int root = 0);

  // The step this rank is at, published with its heartbeat.
  void set_step(int64_t step) { step_.store(step); }
  Traffic traffic() const;
  void reset_traffic();

 private:
  template <class F>
  void guarded(const char* what, F&& run);
  void count(const torch::Tensor& tensor, int64_t sent);
  void heartbeat_loop();
  std::string diagnose();

  c10::intrusive_ptr<c10d::Store> store_, heartbeat_store_;
  c10::intrusive_ptr<compat::ProcessGroup> group_;
  int rank_ = 0, world_size_ = 1, local_rank_ = 0, local_world_size_ = 1;
  CommunicatorOptions options_;
  std::string store_address_;
  std::atomic<int64_t> step_{0};
  std::atomic<int64_t> payload_{0}, sent_{0}, collectives_{0};
  std::mutex heartbeat_mutex_;
  std::condition_variable heartbeat_wake_;
  bool stopping_ = false;
  std::thread heartbeat_;
};

}  // namespace simclr::distributed
