#pragma once
// The fit whose checkpoints the checkpoint fuzz target reads (and make_checkpoint_seeds
// writes): 3 centres of 3 float64 features, 2 restarts of at most 20 iterations.
#include "lloyd/io/checkpoint.hpp"

namespace lloyd::fuzz {

inline CheckpointIdentity checkpoint_identity() {
  KMeansOptions options;
  options.k = 3;
  options.n_init = 2;
  options.max_iter = 20;
  options.tol = 1e-4;
  options.seed = 7;
  return {options, "k-means++", "data.h5:/X", 50, 3, "float64", 0x0123456789abcdefull};
}

}  // namespace lloyd::fuzz
