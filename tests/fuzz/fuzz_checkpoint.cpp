// libFuzzer target: read_checkpoint (kmeans/checkpoint.hpp) and is_checkpoint_of. A state it
// accepts must be one the driver can resume from: shapes and lengths as the fit needs them.
#include "checkpoint_identity.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lloyd;
  static const fuzz::Vocabulary vocabulary = fuzz::checkpoint_vocabulary();
  const fuzz::InputFile input(data, size, vocabulary);
  const CheckpointIdentity identity = fuzz::checkpoint_identity();
  const bool recognised = is_checkpoint_of(input.path(), identity);
  try {
    const auto state = read_checkpoint<double>(fuzz::world(), input.path(), identity);
    if (!state || !recognised) std::abort();  // a readable checkpoint is this fit's
    const KMeansOptions& o = identity.options;
    const auto k = static_cast<Eigen::Index>(o.k), d = static_cast<Eigen::Index>(identity.n_features);
    if (state->restart < 0 || state->restart >= o.n_init || state->iteration < 0 ||
        state->iteration >= o.max_iter)
      std::abort();
    if (state->iteration > 0 &&
        (state->centroids.rows() != k || state->centroids.cols() != d ||
         state->previous_centroids.rows() != k ||
         state->inertia_history.size() != static_cast<std::size_t>(state->iteration)))
      std::abort();
    if (state->has_best && (state->best_centroids.rows() != k || state->best_centroids.cols() != d ||
                            state->best_restart >= state->restart))
      std::abort();
  } catch (const Error&) {
  }
  return 0;
}
