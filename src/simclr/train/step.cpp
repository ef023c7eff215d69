#include "simclr/train/step.h"

namespace simclr::train {

loss::NtXentOutput forward_loss(models::SimclrModel& model, const torch::Tensor& views, double temperature,
                                Precision precision, const torch::Device& device) {
  const int64_t n = views.size(0) / 2;
  AutocastGuard autocast(precision, device);
  const auto z = model->forward(views).z;
  return loss::nt_xent(z.narrow(0, 0, n), z.narrow(0, n, n), temperature);
}

bool backward_and_step(const torch::Tensor& loss, optim::Lars& optimizer, LossScaler& scaler,
                       const std::vector<torch::Tensor>& parameters) {
  optimizer.zero_grad();
  scaler.scale_loss(loss).backward();
  if (!scaler.unscale_and_update(parameters)) return false;
  optimizer.step();
  return true;
}

}  // namespace simclr::train
