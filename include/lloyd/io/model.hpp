#pragma once
// The model file: what `lloyd fit` produces, and what `predict`, `top-terms` and `evaluate`
// read. Its layout is specified in docs/model-format.md; this header is its only writer
// (write_model, ModelWriter) and its only reader (read_model), which validates everything it
// returns, so that a damaged or foreign model is refused with one line instead of labelling
// rows wrongly.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/error.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/core/tree.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/core/distance.hpp"
#include "lloyd/core/scaling.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// The layout version this lloyd writes (root attribute `format_version`). The reader accepts
/// it and models without the attribute (written before it existed: the same layout); a newer
/// version is refused. Raise it when a field changes meaning or a reader of this version would
/// misread a new file; document the change in docs/model-format.md.
constexpr std::int64_t kModelFormatVersion = 1;
/// The version of a model fitted with --standardize (/scaling): a version-1 reader would
/// label raw rows with the centres of the scaled space, so it must refuse such a model.
/// Models without scaling keep version 1.
constexpr std::int64_t kScaledModelFormatVersion = 2;
/// The newest version read_model accepts.
constexpr std::int64_t kNewestModelFormatVersion = kScaledModelFormatVersion;

/// How the model was fitted (`lloyd fit --mode`), which decides its fields and how it labels
/// rows.
enum class ModelAlgorithm { Lloyd, Bisecting, MiniBatch, KMedians, KMedoids };
/// "lloyd", "bisecting", "minibatch", "kmedians", "kmedoids".
const char* to_string(ModelAlgorithm algorithm);
/// The inverse of to_string; std::nullopt for any other name.
std::optional<ModelAlgorithm> parse_model_algorithm(const std::string& name);

/// The fields a model of each algorithm carries besides those every model has (the table of
/// docs/model-format.md): the writer writes exactly these, the reader reads what is present.
struct ModelLayout {
  bool center_shift = false;     ///< /history/center_shift
  bool restart_inertia = false;  ///< /history/restart_inertia
  bool lloyd_attributes = false; ///< best_restart, assignment, metric (and k-means||'s settings)
  bool mode_attribute = false;   ///< `mode` (= algorithm), as the variants have always written
  bool distance_attribute = false;
  bool tree = false;             ///< /tree, bisecting_strategy
  bool minibatch = false;        ///< /counts, /history/ewa_inertia, the mini-batch settings
  bool medoids = false;          ///< /medoid_indices, medoid_method, sample
};
ModelLayout layout_of(ModelAlgorithm algorithm);

/// The mini-batch settings as fitted (root attributes).
struct MiniBatchRecord {
  std::int64_t batch_size = 0, max_no_improvement = 0, init_size = 0, n_steps = 0;
  double reassignment_ratio = 0;
  friend bool operator==(const MiniBatchRecord&, const MiniBatchRecord&) = default;
};

/// The fit's result and settings: the root attributes (k and n_features are the shape of
/// /centroids). A foreign model (written by another tool) may lack any of them: those read
/// as the defaults here.
struct FitRecord {
  double inertia = 0, init_inertia = 0;
  std::int64_t n_iter = 0;
  bool converged = false;
  std::uint64_t seed = 0;
  std::string init;
  std::int64_t n_init = 1, max_iter = 0;
  double tol = 0, tol_absolute = 0;
  std::uint64_t n_samples = 0;
  std::string input;  ///< the data, FILE.h5:/dataset
  std::string sample_weight;  ///< fit --sample-weight FILE.h5:/dataset, or "" (unweighted)
  // layout.lloyd_attributes
  std::int64_t best_restart = 0;
  Algorithm assignment = Algorithm::Lloyd;  ///< what ran (never Auto)
  std::optional<double> oversampling;       ///< k-means||: ℓ as used
  std::optional<std::int64_t> init_rounds;  ///< k-means||
  // layout.tree
  BisectingStrategy bisecting_strategy = BisectingStrategy::BiggestInertia;
  // layout.minibatch
  MiniBatchRecord minibatch;
  // layout.medoids
  MedoidMethod medoid_method = MedoidMethod::Alternate;
  std::int64_t sample = 0;  ///< rows the medoids were chosen among
  friend bool operator==(const FitRecord&, const FitRecord&) = default;
};

/// The convergence history (float64 datasets under /history).
struct ModelHistory {
  std::vector<double> inertia;          ///< every model
  std::vector<double> center_shift;     ///< layout.center_shift
  std::vector<double> restart_inertia;  ///< layout.restart_inertia
  std::vector<double> ewa_inertia;      ///< layout.minibatch
  friend bool operator==(const ModelHistory&, const ModelHistory&) = default;
};

/// Seconds per phase and the peak resident memory (/timings). They differ from run to run:
/// comparisons of models leave them out.
struct ModelTimings {
  PhaseTimes phases;
  double peak_rss_mb = 0;
  /// Each phase's minimum over ranks (not kept in the file): beside `phases`, the load
  /// imbalance. The fastest rank's `reduce` is about the communication alone; the others also
  /// wait there for the slowest rank's assignment.
  PhaseTimes phases_min;
};
/// Collective over comm: the maximum (and the minimum) over ranks of every phase and the
/// maximum of the peak resident memory (getrusage) of a rank, identical on every rank.
ModelTimings gather_timings(const Comm& comm, const PhaseTimes& phases);

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
  /// The length of /labels (0: the model has none). On write, the rows of the data.
  std::uint64_t label_rows = 0;
  /// On write: this rank's labels, rows [first_row, first_row + labels.size()) of /labels
  /// (empty when they were streamed through ModelWriter::write_labels). read_model leaves
  /// them empty: read_labels (metrics/labels.hpp) reads a rank's slice collectively.
  std::vector<std::int32_t> labels;
  std::uint64_t first_row = 0;
  FitRecord record;
  ModelHistory history;
  std::vector<std::int64_t> counts;          ///< minibatch: rows each centre absorbed
  std::vector<std::int64_t> medoid_indices;  ///< kmedoids: global row of each medoid
  /// fit --standardize: the features' scaling (/scaling/mean, /scaling/scale). `centroids`
  /// (and a tree's centres) are then in the scaled space, where rows are labelled; the file's
  /// /centroids holds them in data units and /scaled_centroids as they are here.
  std::optional<Scaling> scaling;
  /// fit --distances: the model has /distance (n float64, each row's distance to its centre).
  /// On write, this rank's values, rows from first_row (empty when they were streamed through
  /// ModelWriter::write_distances). read_model leaves them empty.
  bool has_distances = false;
  std::vector<double> distances;
  /// On write, this rank's phases (the writer adds `write` and takes the maxima over ranks);
  /// on read, the file's.
  ModelTimings timings;
};

/// Collective over comm: reads the model `ref` on every rank (a small file, read whole by each
/// rank on its own). `ref.path == "/centroids"`: a model written by `lloyd fit` — a
/// `format_version` newer than kNewestModelFormatVersion is refused; a model with /scaling
/// (fit --standardize) is read with its scaling and its /scaled_centroids as `centroids`
/// (d finite means, d finite positive scales, k × d finite centres); its root attributes
/// `algorithm`, `mode`, `metric`, `distance`, `assignment`, `bisecting_strategy`,
/// `medoid_method` must hold known values that fit together (absent ones take the values of a
/// plain Lloyd model), `k` and `n_features` must match /centroids, every other field present
/// must have its type and shape (history vectors, /counts and /medoid_indices of k values),
/// /labels (when present) must be a 1-D integer dataset, and a bisecting model's /tree must be
/// a consistent binary tree of 2k − 1 nodes (children after their parent and pointing back to
/// it, leaves labelled 0..k−1 in depth-first order, leaf centres equal to the centroids, sizes
/// adding up). Any other path: a bare k × d dataset of centres, labelled by the nearest
/// centre. Centres are finite and, when `features` is given, d = features wide. Every problem
/// is an AgreedError of one line naming the model and the field.
/// The checks read_model makes of a bisecting tree (2k - 1 nodes, children after their parent
/// and pointing back to it, leaves labelled 0..k-1 depth-first with the centroids' centres,
/// sizes adding up) and of a standardization (d finite means, d finite scales > 0), for models
/// that come from elsewhere (a Python estimator's state); `problem` makes the error to throw.
template <class T>
void check_bisecting_tree(const BisectingTree<T>& tree, const RowMatrix<T>& centroids,
                          const std::function<Error(const std::string&)>& problem);
void check_scaling(const Scaling& scaling, std::uint64_t features, const std::function<Error(const std::string&)>& problem);

template <class T>
Model<T> read_model(const Comm& comm, const DatasetRef& ref,
                    std::optional<std::uint64_t> features = std::nullopt);

/// The model file while it is written: an OutputFile (partial until committed, --force, agreed
/// errors on every rank), with /labels created at once so that a fit can write its labels block
/// by block as it computes them. Collective over comm, every method.
template <class T>
class ModelWriter {
 public:
  /// `label_rows`: the length of /labels (the rows of the data).
  ModelWriter(const Comm& comm, const std::filesystem::path& path, bool replace_existing,
              std::uint64_t label_rows);
  /// Rows [first_row, first_row + labels.size()) of /labels; every rank calls equally often
  /// (with no labels when it has none left).
  void write_labels(std::uint64_t first_row, std::span<const std::int32_t> labels);
  /// Rows [first_row, first_row + distances.size()) of /distance (created at the first call);
  /// every rank calls equally often.
  void write_distances(std::uint64_t first_row, std::span<const double> distances);
  /// Writes every other field of `model` (its labels too, when it holds them), /timings last,
  /// and moves the file to its name.
  void commit(const Model<T>& model);
  const std::filesystem::path& path() const { return file_.path(); }

 private:
  const Comm& comm_;
  OutputFile file_;
  std::uint64_t label_rows_ = 0;  ///< rows of /labels and /distance
  double seconds_ = 0;            ///< spent writing so far (this rank)
  bool labels_streamed_ = false;  ///< write_labels was called (on every rank alike)
  bool distances_streamed_ = false;  ///< write_distances was called (on every rank alike)
};

/// Collective over comm: writes `model` (with this rank's labels) to `path` in one go.
template <class T>
void write_model(const Comm& comm, const std::filesystem::path& path, bool replace_existing,
                 const Model<T>& model);

}  // namespace lloyd
