#include "simclr/eval/protocols.h"

#include "simclr/eval/finetune.h"
#include "simclr/eval/knn_eval.h"
#include "simclr/eval/linear_eval.h"

namespace simclr::eval {

const Registry<ProtocolEntry>& protocols() {
  static const Registry<ProtocolEntry> registry(
      "evaluation protocol",
      {
          {"linear", "linear probe on frozen features (eval.*; the paper's protocol)",
           [](const config::Config& c, serialize::CheckpointReader* r) {
             const auto e = linear_eval(c, r);
             return ProtocolScore{e.probe.top1,
                                  e.probe.top5,
                                  {{"feature_layer", e.feature_layer}, {"test_split", e.test_split}}};
           }},
          {"knn", "weighted kNN on frozen features (eval.knn_k, eval.knn_temperature)",
           [](const config::Config& c, serialize::CheckpointReader* r) {
             const auto e = knn_eval(c, r);
             return ProtocolScore{e.knn.top1,
                                  e.knn.top5,
                                  {{"feature_layer", e.feature_layer}, {"k", e.k}, {"test_split", e.test_split}}};
           }},
          {"finetune", "fine-tuning on a fraction of the labels (finetune.*)",
           [](const config::Config& c, serialize::CheckpointReader* r) {
             const auto e = finetune(c, r);
             return ProtocolScore{
                 e.top1, e.top5, {{"labeled", e.labeled}, {"from_layer", e.from_layer}, {"test_split", e.test_split}}};
           }},
      });
  return registry;
}

}  // namespace simclr::eval
