#pragma once
// External scores: agreement of a clustering with known classes, from the contingency table
// (reduced over ranks), with scikit-learn's formulas.
#include <cstdint>
#include <span>
#include <vector>

#include "lloyd/comm.hpp"

namespace lloyd {

struct ExternalScores {
  double adjusted_rand = 0;
  double normalized_mutual_info = 0;  ///< arithmetic mean normalisation (scikit-learn default)
  double homogeneity = 0, completeness = 0, v_measure = 0;
};

/// Collective over comm: `predicted` and `truth` are this rank's rows' labels (any int32
/// values, used as categories). Equal to scikit-learn's adjusted_rand_score,
/// normalized_mutual_info_score, homogeneity_completeness_v_measure(labels_true=truth, …).
/// Memory follows the non-zero cells of the contingency table (at most n), not the range of
/// the values nor classes × clusters.
ExternalScores external_scores(const Comm& comm, std::span<const std::int32_t> predicted,
                               std::span<const std::int32_t> truth);

/// The same from a contingency table (rows: true classes, columns: clusters; zero rows and
/// columns are ignored). Not collective.
ExternalScores external_scores(const std::vector<std::vector<std::int64_t>>& contingency);

}  // namespace lloyd
