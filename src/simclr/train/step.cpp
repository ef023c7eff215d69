#include "simclr/train/step.h"

#include "simclr/core/error.h"
#include "simclr/distributed/collectives.h"
#include "simclr/loss/contrastive_loss.h"

namespace simclr::train {

loss::NtXentOutput forward_loss(models::SimclrModel& model, const torch::Tensor& views, double temperature,
                                Precision precision, const torch::Device& device, const Parallel& parallel) {
  const int64_t n = views.size(0) / 2;
  AutocastGuard autocast(precision, device);
  const auto z = model->forward(views).z;
  if (parallel.comm && parallel.global_negatives) {
    const auto all = distributed::gather_rows(loss::normalize_projections(z), *parallel.comm);
    return loss::nt_xent_anchors(all, parallel.comm->rank() * 2 * n, 2 * n, temperature);
  }
  return loss::nt_xent(z.narrow(0, 0, n), z.narrow(0, n, n), temperature);
}

loss::NtXentOutput forward_loss(models::SimclrModel& model, const torch::Tensor& views, const loss::LossOptions& loss,
                                Precision precision, const torch::Device& device, const Parallel& parallel) {
  if (loss.name == "nt_xent" && loss.normalize) return forward_loss(model, views, loss::temperature_of(loss), precision, device, parallel);
  SIMCLR_CHECK(!parallel.comm, "loss.name {} (normalize {}) runs in one process only; data-parallel runs use NT-Xent "
               "on normalised projections", loss.name, loss.normalize);
  const int64_t n = views.size(0) / 2;
  AutocastGuard autocast(precision, device);
  const auto z = model->forward(views).z;
  return loss::contrastive_loss(z.narrow(0, 0, n), z.narrow(0, n, n), loss);
}

bool backward_and_step(const torch::Tensor& loss, optim::Lars& optimizer, LossScaler& scaler,
                       const std::vector<torch::Tensor>& parameters, const Parallel& parallel) {
  optimizer.zero_grad();
  if (parallel.gradients) parallel.gradients->begin();
  scaler.scale_loss(loss).backward();
  if (parallel.gradients) parallel.gradients->finish();
  if (!scaler.unscale_and_update(parameters)) return false;
  optimizer.step();
  return true;
}

}  // namespace simclr::train
