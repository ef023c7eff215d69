#include "simclr/optim/lars.h"

#include "simclr/core/error.h"

namespace simclr::optim {

Lars::Lars(std::vector<torch::Tensor> params, LarsOptions options) : params_(std::move(params)), options_(options) {
  for (const auto& p : params_) momentum_.push_back(torch::zeros_like(p, at::MemoryFormat::Preserve));
}

void Lars::zero_grad() {
  for (auto& p : params_) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

void Lars::step() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!p.grad().defined()) continue;
    torch::Tensor g = p.grad();
    if (is_excluded(p)) {
      momentum_[i].mul_(options_.momentum).add_(g, lr_);
    } else {
      if (options_.weight_decay != 0) g = g.add(p, options_.weight_decay);
      torch::Tensor scale = torch::full({}, lr_, g.options());
      if (options_.adapt) {
        // Kept as tensors: no host synchronisation per parameter on a GPU.
        const auto w_norm = p.norm(), g_norm = g.norm();
        const auto trust = torch::where((w_norm > 0) & (g_norm > 0), options_.trust * w_norm / g_norm,
                                        torch::ones_like(w_norm));
        scale = scale * trust;
      }
      momentum_[i].mul_(options_.momentum).add_(g * scale);
    }
    p.sub_(momentum_[i]);
  }
}

void Lars::save(torch::serialize::OutputArchive& archive) const {
  archive.write("lr", c10::IValue(lr_));
  for (size_t i = 0; i < momentum_.size(); ++i) archive.write("momentum." + std::to_string(i), momentum_[i], true);
}

void Lars::load(torch::serialize::InputArchive& archive) {
  c10::IValue lr;
  archive.read("lr", lr);
  lr_ = lr.toDouble();
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < momentum_.size(); ++i) {
    torch::Tensor m;
    archive.read("momentum." + std::to_string(i), m, true);
    SIMCLR_CHECK(m.sizes() == momentum_[i].sizes(),
                 "checkpoint optimizer state does not match the model (parameter {}: {} vs {}); was it written for a "
                 "different architecture?",
                 i, c10::str(m.sizes()), c10::str(momentum_[i].sizes()));
    momentum_[i].copy_(m);
  }
}

}  // namespace simclr::optim
