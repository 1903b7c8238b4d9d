#pragma once
// The model file as `predict` and `top-terms` read it (README, "File layouts"): one reader
// that validates everything they use, so that a damaged or foreign model is refused with one
// line instead of labelling rows wrongly.
#include <cstdint>
#include <optional>
#include <string>

#include "lloyd/comm.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/bisecting.hpp"
#include "lloyd/metrics/pairwise.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// How the model was fitted, which decides how it labels rows.
enum class ModelAlgorithm { Lloyd, Bisecting, MiniBatch, KMedians, KMedoids };

template <class T>
struct Model {
  RowMatrix<T> centroids;  ///< k × d
  ModelAlgorithm algorithm = ModelAlgorithm::Lloyd;
  /// --metric cosine: rows are labelled by their largest dot product with the unit centres.
  bool cosine = false;
  /// The distance of nearest-centre labelling: Euclidean, Manhattan for k-medians, the
  /// model's own for k-medoids.
  Distance distance = Distance::Euclidean;
  std::optional<BisectingTree<T>> tree;  ///< a bisecting model: labels descend the tree
  std::uint64_t label_rows = 0;          ///< the length of /labels (0: the model has none)
};

/// Collective over comm: reads the model `ref` on every rank (a small file, read whole by each
/// rank on its own). `ref.path == "/centroids"`: a model written by `lloyd fit` — its root
/// attributes `algorithm`, `mode`, `metric`, `distance`, `assignment`, `bisecting_strategy`
/// must hold known values that fit together (absent ones take the values of a plain Lloyd
/// model), `k` and `n_features` must match /centroids, /labels (when present) must be a 1-D
/// integer dataset, and a bisecting model's /tree must be a consistent binary tree of 2k − 1
/// nodes (children after their parent and pointing back to it, leaves labelled 0..k−1 in
/// depth-first order, leaf centres equal to the centroids, sizes adding up). Any other path:
/// a bare k × d dataset of centres, labelled by the nearest centre. Centres are finite and,
/// when `features` is given, d = features wide. Every problem is an AgreedError of one line
/// naming the model and the field.
template <class T>
Model<T> read_model(const Comm& comm, const DatasetRef& ref,
                    std::optional<std::uint64_t> features = std::nullopt);

}  // namespace lloyd
