#include "simclr/distributed/collectives.h"

namespace simclr::distributed {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// autograd::Function's saved_data holds IValues; the communicator outlives
// every graph built in a training step, so its address is kept as an int.
int64_t handle(Communicator& comm) { return reinterpret_cast<int64_t>(&comm); }
Communicator& from_handle(AutogradContext* ctx) {
  return *reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
}

torch::Tensor summed(const torch::Tensor& t, Communicator& comm) {
  auto out = t.contiguous().clone();
  comm.all_reduce_(out);
  return out;
}

class AllReduceSum : public torch::autograd::Function<AllReduceSum> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, int64_t comm) {
    ctx->saved_data["comm"] = comm;
    return summed(x, *reinterpret_cast<Communicator*>(comm));
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    return {summed(grad[0], from_handle(ctx)), torch::Tensor()};
  }
};

class GatherRows : public torch::autograd::Function<GatherRows> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, int64_t comm) {
    ctx->saved_data["comm"] = comm;
    ctx->saved_data["rows"] = x.size(0);
    return reinterpret_cast<Communicator*>(comm)->all_gather(x);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    auto& comm = from_handle(ctx);
    const int64_t rows = ctx->saved_data["rows"].toInt();
    // Every rank's loss depends on this rank's rows: add up all their
    // gradients, then keep the rows that came from here.
    const auto total = summed(grad[0], comm);
    return {total.narrow(0, comm.rank() * rows, rows).clone(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_reduce_sum(const torch::Tensor& x, Communicator& comm) {
  return AllReduceSum::apply(x, handle(comm));
}

torch::Tensor gather_rows(const torch::Tensor& x, Communicator& comm) { return GatherRows::apply(x, handle(comm)); }

}  // namespace simclr::distributed
