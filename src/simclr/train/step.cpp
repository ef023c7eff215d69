#include "simclr/train/step.h"

#include <ATen/autocast_mode.h>

#include "simclr/core/error.h"
#include "simclr/distributed/collectives.h"
#include "simclr/loss/contrastive_loss.h"

namespace simclr::train {

namespace {

// Step 3 of the gradient cache (micro_batch.h): each micro-batch again, with
// autograd, back-propagating its rows of dL/dz. Runs inside the loss's
// backward, from the hook on the projections.
void recompute_and_backward(models::SimclrModelImpl& model, const torch::Tensor& views,
                            const std::vector<MicroBatch>& plan, const torch::Tensor& grad, Precision precision,
                            const torch::Device& device, distributed::GradientAverager* averager) {
  BufferSnapshot running_statistics(model);
  // Casts cached by step 1 without autograd would carry no gradient (a
  // caller's own autocast region keeps its cache alive until it ends).
  at::autocast::clear_cache();
  if (averager) averager->expect_passes(static_cast<int64_t>(plan.size()));
  torch::AutoGradMode grad_mode(true);
  for (const auto& batch : plan) {
    torch::Tensor z;
    {
      // A region of its own: autocast's cache of bf16 weights is cleared
      // when it ends, and casts cached by step 1 without autograd (which
      // would carry no gradient back to the weights) never reach this one.
      AutocastGuard autocast(precision, device);
      z = model.forward(take_rows(views, batch)).z;
    }
    torch::autograd::backward({z}, {take_rows(grad, batch)});
  }
}

loss::NtXentOutput micro_batched_forward_loss(models::SimclrModel& model, const torch::Tensor& views,
                                              const loss::LossOptions& loss, Precision precision,
                                              const torch::Device& device, const Parallel& parallel,
                                              const MicroBatching& micro, const torch::Tensor& negatives) {
  const int64_t n = views.size(0) / 2;
  auto plan = plan_micro_batches(n, micro);
  torch::Tensor z;
  {  // steps 1 and 2: the projections of the whole batch, no activations kept
    // With autograd on, so that step 1 runs the very kernels step 3 will run
    // (oneDNN picks other fp32 convolutions for inference) and its
    // projections are bit for bit those step 3 differentiates; each pass's
    // graph dies with its projections, so memory holds one pass at a time.
    AutocastGuard autocast(precision, device);
    for (const auto& batch : plan) {
      const auto part = model->forward(take_rows(views, batch)).z.detach();
      if (!z.defined()) z = torch::empty({2 * n, part.size(1)}, part.options());
      put_rows(z, batch, part);
    }
  }
  z.requires_grad_(true);
  // The hook holds what step 3 needs; it lives as long as the loss's graph.
  z.register_hook([impl = model.ptr(), views, plan = std::move(plan), precision, device,
                   averager = parallel.gradients](const torch::Tensor& grad) {
    recompute_and_backward(*impl, views, plan, grad, precision, device, averager);
  });
  AutocastGuard autocast(precision, device);
  return projections_loss(z, loss, parallel, negatives);
}

}  // namespace

loss::NtXentOutput projections_loss(const torch::Tensor& z, const loss::LossOptions& loss,
                                    const Parallel& parallel, const torch::Tensor& negatives) {
  const int64_t n = z.size(0) / 2;
  if (loss.name == "nt_xent" && loss.normalize) {
    const double temperature = loss::temperature_of(loss);
    if (parallel.comm && parallel.global_negatives) {
      const auto all = distributed::gather_rows(loss::normalize_projections(z), *parallel.comm);
      return loss::nt_xent_anchors(all, parallel.comm->rank() * 2 * n, 2 * n, temperature, negatives);
    }
    return loss::nt_xent(z.narrow(0, 0, n), z.narrow(0, n, n), temperature, true, negatives);
  }
  SIMCLR_CHECK(!negatives.defined(), "loss.queue_size works with loss.name nt_xent on normalised projections, not "
               "{} (normalize {})", loss.name, loss.normalize);
  SIMCLR_CHECK(!parallel.comm, "loss.name {} (normalize {}) runs in one process only; data-parallel runs use NT-Xent "
               "on normalised projections", loss.name, loss.normalize);
  return loss::contrastive_loss(z.narrow(0, 0, n), z.narrow(0, n, n), loss);
}

loss::NtXentOutput forward_loss(models::SimclrModel& model, const torch::Tensor& views, double temperature,
                                Precision precision, const torch::Device& device, const Parallel& parallel) {
  loss::LossOptions options;
  options.temperature = temperature;
  return forward_loss(model, views, options, precision, device, parallel);
}

loss::NtXentOutput forward_loss(models::SimclrModel& model, const torch::Tensor& views, const loss::LossOptions& loss,
                                Precision precision, const torch::Device& device, const Parallel& parallel,
                                const MicroBatching& micro, const torch::Tensor& negatives) {
  if (micro.enabled()) {
    return micro_batched_forward_loss(model, views, loss, precision, device, parallel, micro, negatives);
  }
  AutocastGuard autocast(precision, device);
  return projections_loss(model->forward(views).z, loss, parallel, negatives);
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
