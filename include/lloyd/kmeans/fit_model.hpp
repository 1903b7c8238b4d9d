#pragma once
// One fit of rows already in memory, in any mode, as a Model, and the labels a Model gives
// rows: what `lloyd fit` and `lloyd predict` run once they have read their input, and what the
// Python package (python/) runs on the ranks' NumPy arrays — one dispatch, so that both give
// the same bits for the same rows and settings.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "lloyd/comm.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/io/model.hpp"
#include "lloyd/io/output_path.hpp"
#include "lloyd/io/row_source.hpp"
#include "lloyd/kmeans/bisecting.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/engine.hpp"
#include "lloyd/kmeans/kmedoids.hpp"
#include "lloyd/kmeans/minibatch.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// What a fit is asked besides its rows: the mode and each mode's own settings.
struct FitSettings {
  ModelAlgorithm mode = ModelAlgorithm::Lloyd;
  KMeansOptions options;
  /// Spherical K-Means (unit rows and centres; mode Lloyd only, rows given as CSR).
  bool cosine = false;
  BisectingStrategy strategy = BisectingStrategy::BiggestInertia;  ///< mode Bisecting
  MiniBatchOptions batch;                                          ///< mode MiniBatch
  KMedoidsOptions medoids;                                         ///< mode KMedoids
  /// The init as the user named it, recorded in the model ("k-means++", a file, …).
  std::string init_text = "k-means++";
};

inline bool is_variant(ModelAlgorithm mode) {
  return mode == ModelAlgorithm::MiniBatch || mode == ModelAlgorithm::KMedians || mode == ModelAlgorithm::KMedoids;
}

/// ℓ of k-means|| as used: options.oversampling, or 2k by default.
inline double effective_oversampling(const KMeansOptions& options) {
  return options.oversampling > 0 ? options.oversampling : 2.0 * options.k;
}

/// The name a checkpoint of this fit must match besides the common options: the mode and its
/// own settings (a checkpoint of one method is never resumed by another).
std::string checkpoint_method(const FitSettings& settings);

/// What a fit produced: the model, and what a report prints besides it.
template <class T>
struct FitOutcome {
  Model<T> model;
  KMeansOptions options;  ///< as run: one restart from explicit centres
  std::size_t bound_bytes = 0;          ///< this rank's memory for the bounds (pruned algorithms)
  PruningWork pruning;                  ///< this rank's (pruned algorithms)
  int relocation_passes = 0;            ///< passes over the rows to relocate empty clusters
  bool interrupted = false;             ///< stopped on request after saving a checkpoint
  StreamStats stream;                   ///< what a streamed Lloyd fit read (this rank's)
  /// The checkpoint file as this fit last wrote or resumed from it (rank 0; set by the CLI).
  std::optional<FileIdentity> own_checkpoint;
};

/// What a fit reports while it runs, and how it may be stopped and continued (all optional).
template <class T>
struct FitHooks {
  IterationObserver iteration;  ///< every iteration (a mini-batch step) of every mode but bisecting
  SplitObserver split;          ///< every split of bisecting
  /// Called once per fit, before it starts, with the checkpoint method name (checkpoint_method)
  /// and a collective fingerprint of the rows: the fit's control (stop, save, resume).
  std::function<FitControl<T>(const std::string& method, const std::function<std::uint64_t()>& fingerprint)>
      control;
};

/// Collective over comm: `settings` fitted on the dense rows of every rank (`shard`: this rank's,
/// rows from shard.first_row of shard.global_rows; its sample weights when it has them), from
/// `initial` centres (k × d, one restart) when given — modes Lloyd, Bisecting, MiniBatch,
/// KMedians and KMedoids. The model holds this rank's labels (mini-batch: handed to `sink`
/// block by block instead, when a sink is given) and every field its mode writes, except the
/// record's `input` and `sample_weight` (the caller's names for the data).
template <class T>
FitOutcome<T> fit_model(const Comm& comm, const FitSettings& settings, const DenseShard<T>& shard,
                        const RowMatrix<T>* initial, const FitHooks<T>& hooks = {}, const LabelSink& sink = {});

/// Collective over comm: modes MiniBatch and Lloyd (Euclidean: Lloyd, Hamerly, Yinyang) on
/// rows read block by block from `source` (out of core, fit --stream); Lloyd from `initial`
/// centres when given. Lloyd's model is the one fit_model gives for the rows in memory, bit
/// for bit (its labels are held: 4 bytes per row).
template <class T>
FitOutcome<T> fit_model(const Comm& comm, const FitSettings& settings, RowSource<T>& source,
                        const FitHooks<T>& hooks = {}, const LabelSink& sink = {},
                        const RowMatrix<T>* initial = nullptr);

/// Collective over comm: spherical K-Means (settings.cosine) on unit rows in CSR form.
template <class T>
FitOutcome<T> fit_model(const Comm& comm, const FitSettings& settings, const CsrShard<T>& unit_rows,
                        const RowMatrix<T>* initial, const FitHooks<T>& hooks = {});

/// The distance a model measures rows by: 1 − cos for a cosine model, else its own (Euclidean,
/// L1 for k-medians, the medoid distance for k-medoids).
template <class T>
Distance model_distance(const Model<T>& model) {
  return model.cosine ? Distance::Cosine : model.distance;
}

/// Collective over comm: the label `model` gives each local row — a bisecting model by descending
/// its tree (as scikit-learn's BisectingKMeans), k-medians and k-medoids by their own distance,
/// the others by the nearest centre — and returns the inertia over all ranks (weighted when the
/// shard has weights). Not for a cosine model (an Error): that one labels unit CSR rows.
template <class T>
double predict_model(const Comm& comm, const Model<T>& model, const DenseShard<T>& shard,
                     std::vector<std::int32_t>& labels);
/// Collective over comm: the same for a cosine model (an Error for any other): the largest dot
/// product of the unit rows with the centres; the inertia is Σ 1 − cos.
template <class T>
double predict_model(const Comm& comm, const Model<T>& model, const CsrShard<T>& unit_rows,
                     std::vector<std::int32_t>& labels);

}  // namespace lloyd
