#include "simclr/distributed/communicator.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <cstdlib>
#include <map>
#include <sstream>

#include "simclr/core/error.h"
#include "simclr/core/interrupt.h"

namespace simclr::distributed {
namespace {

using Clock = std::chrono::steady_clock;

std::string heartbeat_key(int rank) { return "simclr/heartbeat/" + std::to_string(rank); }
std::string joined_key(int rank) { return "simclr/joined/" + std::to_string(rank); }

std::string to_text(const std::vector<uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }
std::vector<uint8_t> to_bytes(const std::string& text) { return {text.begin(), text.end()}; }

std::string join_ranks(const std::vector<int>& ranks) {
  std::string out;
  for (size_t i = 0; i < ranks.size(); ++i) out += (i ? ", " : "") + std::to_string(ranks[i]);
  return out;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  // As torch.distributed: GLOO_SOCKET_IFNAME names the interface; a job on
  // loopback stays on loopback; otherwise the address this host resolves to.
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  if (is_loopback(master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

struct Heartbeat {
  int64_t counter = -1, step = -1;
};

std::map<int, Heartbeat> read_heartbeats(c10d::Store& store, int world_size) {
  std::map<int, Heartbeat> out;
  for (int r = 0; r < world_size; ++r) {
    if (!store.check({heartbeat_key(r)})) continue;
    std::istringstream in(to_text(store.get(heartbeat_key(r))));
    Heartbeat h;
    in >> h.counter >> h.step;
    out[r] = h;
  }
  return out;
}

}  // namespace

std::shared_ptr<Communicator> Communicator::connect(const LaunchInfo& launch, const CommunicatorOptions& options) {
  const std::string address = fmt::format("{}:{}", launch.master_addr, launch.master_port);
  const double seconds = options.timeout.count() / 1000.0;
  // The store may be torchrun's, shared with its agent and kept across
  // restarts: this run's keys live under a prefix of their own.
  const std::string prefix = fmt::format("simclr/{}/", launch.restart);
  auto open_store = [&](bool server) -> c10::intrusive_ptr<c10d::Store> {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(launch.master_port);
    so.isServer = server;
    so.waitWorkers = false;  // joining is checked below, naming who is missing
    so.timeout = options.timeout;
    compat::use_classic_tcp_store(so);
    try {
      return c10::make_intrusive<c10d::PrefixStore>(prefix, c10::make_intrusive<c10d::TCPStore>(launch.master_addr, so));
    } catch (const std::exception& e) {
      if (server) {
        throw Error(fmt::format("rank 0 cannot host the rendezvous store at {}: {}. Is MASTER_PORT {} already in use "
                                "(another job)? Choose a free port with MASTER_PORT",
                                address, e.what(), launch.master_port));
      }
      throw Error(fmt::format("rank {} could not reach the rendezvous store at {} within {:g} s: {}. Rank 0 hosts "
                              "it: check that rank 0 is running and that every rank has the same MASTER_ADDR and "
                              "MASTER_PORT",
                              launch.rank, address, seconds, e.what()));
    }
  };
  auto store = open_store(launch.rank == 0 && !launch.launcher_hosts_store);
  // The heartbeat thread gets a connection of its own so it never waits
  // behind (or interleaves with) the main thread's store traffic.
  auto heartbeat_store = open_store(false);

  store->set(joined_key(launch.rank), to_bytes("1"));
  const auto deadline = Clock::now() + options.timeout;
  for (;;) {
    std::vector<int> missing;
    for (int r = 0; r < launch.world_size; ++r) {
      if (!store->check({joined_key(r)})) missing.push_back(r);
    }
    if (missing.empty()) break;
    SIMCLR_CHECK(Clock::now() < deadline,
                 "rendezvous at {}: rank(s) {} of {} did not join within {:g} s. Start all {} processes with the same "
                 "MASTER_ADDR, MASTER_PORT and WORLD_SIZE, or raise --distributed.timeout_seconds",
                 address, join_ranks(missing), launch.world_size, seconds, launch.world_size);
    check_interrupt();  // Ctrl-C while waiting for the other ranks
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CommunicatorOptions o = options;
  o.host = launch.master_addr;
  auto comm = std::make_shared<Communicator>(store, heartbeat_store, launch.rank, launch.world_size, o, address);
  comm->set_local(launch.local_rank, launch.local_world_size);
  return comm;
}

Communicator::Communicator(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<c10d::Store> heartbeat_store,
                           int rank, int world_size, const CommunicatorOptions& options, std::string store_address)
    : store_(std::move(store)),
      heartbeat_store_(std::move(heartbeat_store)),
      rank_(rank),
      world_size_(world_size),
      options_(options),
      store_address_(std::move(store_address)) {
  SIMCLR_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "rank {} of world size {} is out of range", rank,
               world_size);
  heartbeat_store_->set(heartbeat_key(rank_), to_bytes("0 0"));
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
  guarded("connecting the ranks", [&] {
    if (options_.backend == "nccl") {
#ifdef USE_C10D_NCCL
      SIMCLR_CHECK(options_.device.is_cuda() && options_.device.has_index(),
                   "the NCCL backend needs this rank's GPU (got device {}); use --distributed.backend gloo on CPU",
                   options_.device.str());
      // NCCL binds its communicator to the current device, so each rank
      // must be on its own GPU before the first collective (else every
      // rank of a machine piles onto GPU 0).
      c10::impl::VirtualGuardImpl(c10::DeviceType::CUDA).setDevice(options_.device);
      // NCCL's waits only order streams, and a failed or timed-out
      // collective is reported by its watchdog thread, which then aborts
      // the process. Blocking waits make wait() return only when the
      // collective is done and throw on failure or timeout, on the calling
      // thread: the same contract as Gloo, so guarded() can name the rank at
      // fault. A user's own setting wins.
      ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
      ::setenv("NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = options_.timeout;
      group_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(store_, rank_, world_size_, o);
#else
      throw Error("this LibTorch was built without NCCL; use --distributed.backend gloo");
#endif
    } else {
      auto o = c10d::ProcessGroupGloo::Options::create(options_.timeout);
      o->devices.push_back(gloo_device(options_.host));
      o->threads = 2;
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, rank_, world_size_, o);
    }
  });
}

Communicator::~Communicator() {
#ifdef USE_C10D_NCCL
  if (auto* nccl = dynamic_cast<c10d::ProcessGroupNCCL*>(group_.get())) {
    try {
      compat::shutdown(*nccl);
    } catch (const std::exception&) {
      // A peer is already gone; exiting is all that is left to do.
    }
  }
#endif
  {
    std::lock_guard<std::mutex> lock(heartbeat_mutex_);
    stopping_ = true;
  }
  heartbeat_wake_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void Communicator::heartbeat_loop() {
  int64_t counter = 0;
  std::unique_lock<std::mutex> lock(heartbeat_mutex_);
  while (!heartbeat_wake_.wait_for(lock, options_.heartbeat_interval, [this] { return stopping_; })) {
    try {
      heartbeat_store_->set(heartbeat_key(rank_), to_bytes(fmt::format("{} {}", ++counter, step_.load())));
    } catch (const std::exception&) {
      // The store is gone with rank 0; the next collective reports it.
      return;
    }
  }
}

std::string Communicator::diagnose() {
  try {
    heartbeat_store_->setTimeout(std::chrono::seconds(5));
    const auto before = read_heartbeats(*heartbeat_store_, world_size_);
    std::this_thread::sleep_for(options_.heartbeat_interval * 5 / 2);
    const auto after = read_heartbeats(*heartbeat_store_, world_size_);
    std::vector<int> silent;
    std::string detail;
    for (int r = 0; r < world_size_; ++r) {
      if (r == rank_) continue;
      const auto b = before.find(r), a = after.find(r);
      if (a == after.end() || b == before.end() || a->second.counter == b->second.counter) {
        silent.push_back(r);
        if (a != after.end()) detail += fmt::format(" rank {} was last seen at step {}.", r, a->second.step);
      }
    }
    if (!silent.empty()) {
      return fmt::format("rank(s) {} stopped answering: no heartbeat for {:g} s, so the process died or is frozen.{}",
                         join_ranks(silent), options_.heartbeat_interval.count() * 2.5 / 1000, detail);
    }
    int64_t newest = 0;
    for (const auto& [r, h] : after) newest = std::max(newest, h.step);
    std::vector<int> behind;
    for (const auto& [r, h] : after) {
      if (h.step < newest) behind.push_back(r);
    }
    if (!behind.empty()) {
      return fmt::format("rank(s) {} are alive but stuck behind at step {} while others reached step {}",
                         join_ranks(behind), after.at(behind.front()).step, newest);
    }
    return "every rank is alive and at the same step, so the network between them failed";
  } catch (const std::exception&) {
    if (rank_ == 0) return "the rendezvous store on this rank stopped answering";
    return fmt::format("rank 0 stopped answering: the rendezvous store it hosts at {} is gone, so rank 0 died",
                       store_address_);
  }
}

template <class F>
void Communicator::guarded(const char* what, F&& run) {
  try {
    run();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string cause = e.what();
    cause = cause.substr(0, cause.find('\n'));  // c10 appends a C++ backtrace
    throw Error(fmt::format("distributed run, rank {} of {}: {} failed ({}). {} Every rank stops; the last checkpoint "
                            "is intact: relaunch all ranks with --resume (raise --distributed.timeout_seconds if a "
                            "rank is only slow)",
                            rank_, world_size_, what, cause, diagnose()));
  }
}

void Communicator::count(const torch::Tensor& tensor, int64_t sent) {
  payload_ += tensor.numel() * static_cast<int64_t>(tensor.element_size());
  sent_ += sent;
  ++collectives_;
}

void Communicator::all_reduce_(torch::Tensor& tensor) { wait(all_reduce_async(tensor)); }

c10::intrusive_ptr<c10d::Work> Communicator::all_reduce_async(torch::Tensor& tensor) {
  TORCH_INTERNAL_ASSERT(tensor.is_contiguous(), "all-reduce needs a contiguous tensor");
  c10::intrusive_ptr<c10d::Work> work;
  guarded("starting an all-reduce", [&] {
    std::vector<torch::Tensor> t{tensor};
    work = group_->allreduce(t);
  });
  count(tensor, 2 * (world_size_ - 1) * tensor.numel() * tensor.element_size() / world_size_);
  return work;
}

void Communicator::wait(const c10::intrusive_ptr<c10d::Work>& work) {
  guarded("an all-reduce", [&] { work->wait(); });
}

torch::Tensor Communicator::all_gather(const torch::Tensor& tensor) {
  const auto local = tensor.contiguous();
  std::vector<std::vector<torch::Tensor>> out(1);
  for (int r = 0; r < world_size_; ++r) out[0].push_back(torch::empty_like(local));
  guarded("an all-gather", [&] {
    std::vector<torch::Tensor> in{local};
    group_->allgather(out, in)->wait();
  });
  count(local, (world_size_ - 1) * local.numel() * local.element_size());
  return torch::cat(out[0], 0);
}

void Communicator::broadcast_(const std::vector<torch::Tensor>& tensors, int root) {
  if (tensors.empty()) return;
  torch::NoGradGuard no_grad;
  // One flat buffer: a single collective, and channels-last weights need no
  // special case (copy_ follows each tensor's own strides).
  std::vector<torch::Tensor> flat_parts;
  for (const auto& t : tensors) flat_parts.push_back(t.detach().reshape(-1).to(torch::kFloat64));
  auto flat = torch::cat(flat_parts);
  guarded("a broadcast", [&] {
    std::vector<torch::Tensor> t{flat};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    group_->broadcast(t, o)->wait();
  });
  count(flat, rank_ == root ? (world_size_ - 1) * flat.numel() * flat.element_size() : 0);
  int64_t offset = 0;
  for (const auto& t : tensors) {
    t.detach().copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
}

std::vector<double> Communicator::sum(const std::vector<double>& values) {
  auto t = torch::tensor(values, torch::TensorOptions().dtype(torch::kDouble)).to(options_.device);
  all_reduce_(t);
  t = t.cpu();
  return {t.data_ptr<double>(), t.data_ptr<double>() + t.numel()};
}

std::string Communicator::broadcast_text(const std::string& text) {
  auto length = torch::tensor({static_cast<double>(text.size())}, torch::kDouble).to(options_.device);
  broadcast_({length});
  const auto n = static_cast<int64_t>(length.item<double>());
  std::vector<double> codes(static_cast<size_t>(n), 0.0);
  if (rank_ == 0) {
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<unsigned char>(text[i]);
  }
  auto bytes = torch::tensor(codes, torch::TensorOptions().dtype(torch::kDouble)).to(options_.device);
  broadcast_({bytes});
  bytes = bytes.cpu();
  std::string out(codes.size(), '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(static_cast<int>(bytes.data_ptr<double>()[i]));
  return out;
}

Traffic Communicator::traffic() const { return {payload_.load(), sent_.load(), collectives_.load()}; }

void Communicator::reset_traffic() {
  payload_ = 0;
  sent_ = 0;
  collectives_ = 0;
}

}  // namespace simclr::distributed
