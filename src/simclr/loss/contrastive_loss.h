// The contrastive losses the paper compares (section 5.1, Table 2 and 4),
// for the ablations: NT-Xent, NT-Logistic and margin triplet, and the
// decoupled DCL and DCLW, each on l2-normalised projections (cosine
// similarity) or on raw dot products; NT-Logistic and margin optionally
// with semi-hard negative mining.
//
// For anchor i with positive similarity s+ and negatives s- (every other
// view of the batch but itself and its partner), with tau the temperature:
//   NT-Xent       -log( exp(s+/tau) / sum_{k != i} exp(s_k/tau) )
//   NT-Logistic   -log sigmoid(s+/tau) - mean_neg log sigmoid(-s-/tau)
//                 (the negatives are averaged, so that positives and
//                 negatives weigh equally: the paper's reweighting, since
//                 an anchor has 2N-2 negatives and one positive)
//   margin        mean_neg max(s- - s+ + m, 0)
//   DCL           -s+/tau + log sum_neg exp(s-/tau): NT-Xent without the
//                 positive in the denominator (decoupled contrastive
//                 learning, Yeh et al. 2022), reported to need fewer
//                 negatives
//   DCLW          DCL with the positive term weighted by
//                 w = 2 - N softmax(s+/sigma) over the N pairs (the negative
//                 von Mises-Fisher weighting; the weight is differentiated,
//                 as in the authors' code)
// Semi-hard mining (Schroff et al. 2015) keeps only the negatives that are
// farther than the positive (s- < s+), falling back to all of them for an
// anchor that has none. Each loss is averaged over the 2N anchors, computed
// in fp32 outside autocast.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>

#include "simclr/core/registry.h"
#include "simclr/loss/loss_options.h"
#include "simclr/loss/nt_xent.h"

namespace simclr::loss {

// The losses loss.name may name. A new loss: its function (in its own file
// or here) and one line in the table in contrastive_loss.cpp.
struct LossEntry {
  std::string name;
  std::string help;
  // The loss between z1[i] and z2[i] (the positives) with every other row of
  // both as negatives; top1 as for NT-Xent.
  std::function<NtXentOutput(const torch::Tensor& z1, const torch::Tensor& z2, const LossOptions& options)> compute;
};
const Registry<LossEntry>& losses();

// The loss `options` names (loss.name, temperature, normalize, margin,
// semi_hard) between z1[i] and z2[i].
NtXentOutput contrastive_loss(const torch::Tensor& z1, const torch::Tensor& z2, const LossOptions& options);

}  // namespace simclr::loss
