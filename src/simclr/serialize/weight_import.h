// Initialising the encoder from weights saved by PyTorch: a state dict
// (`torch.save(model.state_dict(), path)`, torchvision parameter names) or a
// TorchScript module (`torch.jit.save`), so users can start from published
// weights or compare with models trained in Python.
//
// Names may carry a "module." (DataParallel) and/or "encoder."/"backbone."
// prefix; the classifier (fc.*) and a projection head are ignored. Every
// encoder tensor must be present with the same shape: anything else is an
// error that lists the missing, unexpected or mismatched names.
#pragma once
#include <string>

#include "simclr/models/encoder.h"
#include "simclr/models/model_options.h"
#include "simclr/models/simclr_model.h"

namespace simclr::serialize {

struct ImportReport {
  int64_t tensors = 0;  // encoder tensors set
  int64_t ignored = 0;  // classifier (fc.*, heads.*) and head tensors skipped
  std::string format;   // "state dict" or "TorchScript"
};

ImportReport import_encoder_weights(models::EncoderImpl& encoder, const std::string& path);
// The same for a module holder (models::Encoder, models::ResNet, ...).
template <class Impl>
ImportReport import_encoder_weights(torch::nn::ModuleHolder<Impl>& encoder, const std::string& path) {
  return import_encoder_weights(*encoder, path);
}

// Imports model.init_weights into the encoder when it is set, and logs it.
void maybe_import_weights(const models::ModelOptions& options, models::SimclrModel& model);

}  // namespace simclr::serialize
