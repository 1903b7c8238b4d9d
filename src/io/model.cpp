#include "lloyd/io/model.hpp"

#include <sys/resource.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>

#include "lloyd/io/small_file.hpp"

namespace lloyd {

namespace {

// The algorithms a model can name, and the labelling each one implies.
struct KnownAlgorithm {
  const char* name;
  ModelAlgorithm algorithm;
};
constexpr KnownAlgorithm kAlgorithms[] = {{"lloyd", ModelAlgorithm::Lloyd},
                                          {"bisecting", ModelAlgorithm::Bisecting},
                                          {"minibatch", ModelAlgorithm::MiniBatch},
                                          {"kmedians", ModelAlgorithm::KMedians},
                                          {"kmedoids", ModelAlgorithm::KMedoids}};

}  // namespace

const char* to_string(ModelAlgorithm algorithm) {
  for (const auto& known : kAlgorithms)
    if (known.algorithm == algorithm) return known.name;
  return "lloyd";  // not reached
}

std::optional<ModelAlgorithm> parse_model_algorithm(const std::string& name) {
  for (const auto& known : kAlgorithms)
    if (name == known.name) return known.algorithm;
  return std::nullopt;
}

ModelLayout layout_of(ModelAlgorithm algorithm) {
  ModelLayout layout;
  switch (algorithm) {
    case ModelAlgorithm::Lloyd:
      layout.center_shift = layout.restart_inertia = layout.lloyd_attributes = true;
      break;
    case ModelAlgorithm::Bisecting:  // its history is the inertia after each split only
      layout.lloyd_attributes = layout.tree = true;
      break;
    case ModelAlgorithm::MiniBatch:
      layout.center_shift = layout.mode_attribute = layout.minibatch = true;
      break;
    case ModelAlgorithm::KMedians:
      layout.center_shift = layout.mode_attribute = layout.distance_attribute = true;
      break;
    case ModelAlgorithm::KMedoids:  // medoids jump between rows: no centre shift
      layout.mode_attribute = layout.distance_attribute = layout.medoids = true;
      break;
  }
  return layout;
}

ModelTimings gather_timings(const Comm& comm, const PhaseTimes& p) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double peak_rss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
  std::vector<double> largest, smallest;
  for_each_phase(p, [&](const char*, double seconds) { largest.push_back(seconds); });
  smallest = largest;
  largest.push_back(peak_rss_mb);
  comm.allreduce(std::span<double>(largest), MPI_MAX);
  comm.allreduce(std::span<double>(smallest), MPI_MIN);
  ModelTimings timings{{}, largest.back(), {}};
  std::size_t index = 0;
  for_each_phase(timings.phases, [&](const char*, double& seconds) { seconds = largest[index++]; });
  index = 0;
  for_each_phase(timings.phases_min, [&](const char*, double& seconds) { seconds = smallest[index++]; });
  return timings;
}

namespace {

// `value` must be one of `known`: otherwise an Error naming the attribute and the choices.
void expect_one_of(const SmallFile& in, const std::string& attribute, const std::string& value,
                   std::initializer_list<const char*> known) {
  std::string choices;
  for (const char* name : known) {
    if (value == name) return;
    choices += (choices.empty() ? "" : ", ") + std::string(name);
  }
  throw in.problem("attribute " + attribute + " is '" + value + "'; expected one of " + choices);
}

ModelAlgorithm read_algorithm(const SmallFile& in, bool has_tree) {
  const auto algorithm = in.text_if_present("algorithm");
  const auto mode = in.text_if_present("mode");
  if (algorithm && mode && *algorithm != *mode)
    throw in.problem("attributes algorithm ('" + *algorithm + "') and mode ('" + *mode + "') disagree");
  const std::string name = algorithm ? *algorithm : mode ? *mode : has_tree ? "bisecting" : "lloyd";
  if (const auto known = parse_model_algorithm(name)) return *known;
  expect_one_of(in, algorithm ? "algorithm" : "mode", name,
                {"lloyd", "bisecting", "minibatch", "kmedians", "kmedoids"});
  return ModelAlgorithm::Lloyd;  // not reached
}

// The distance a model labels with: its attribute `distance` where the algorithm has one.
Distance read_distance(const SmallFile& in, ModelAlgorithm algorithm) {
  const auto name = in.text_if_present("distance");
  Distance distance = Distance::Euclidean;
  if (name) {
    try {
      distance = parse_distance(*name);
    } catch (const Error&) {
      expect_one_of(in, "distance", *name, {"euclidean", "manhattan", "cosine"});
    }
  }
  if (algorithm == ModelAlgorithm::KMedoids) return distance;
  const Distance implied = algorithm == ModelAlgorithm::KMedians ? Distance::Manhattan : Distance::Euclidean;
  if (name && distance != implied)
    throw in.problem("attribute distance is '" + *name + "', but a model of this algorithm labels by the " +
                     to_string(implied) + " distance");
  return implied;
}

}  // namespace

// The tree's shape and labels, checked wherever a tree comes from (a model file, a Python
// estimator's state): predict descends it without bounds checks, so a child outside the tree
// or a leaf labelled outside [0, k) would read or write out of bounds.
template <class T>
void check_bisecting_tree(const BisectingTree<T>& tree, const RowMatrix<T>& centroids,
                          const std::function<Error(const std::string&)>& problem) {
  const auto k = static_cast<std::uint64_t>(centroids.rows()), d = static_cast<std::uint64_t>(centroids.cols());
  const std::uint64_t m = 2 * k - 1;
  if (tree.parent.size() != m || tree.left.size() != m || tree.right.size() != m || tree.size.size() != m ||
      tree.label.size() != m || tree.inertia.size() != m || static_cast<std::uint64_t>(tree.centres.rows()) != m ||
      static_cast<std::uint64_t>(tree.centres.cols()) != d)
    throw problem("/tree does not have 2k - 1 = " + std::to_string(m) + " nodes of " + std::to_string(d) +
                  " features in every field");
  const auto nodes = static_cast<std::int64_t>(m);
  auto node_problem = [&](std::int64_t node, const std::string& what) {
    return problem("/tree node " + std::to_string(node) + " " + what);
  };
  if (tree.parent[0] != -1) throw node_problem(0, "(the root) has parent " + std::to_string(tree.parent[0]) + "; expected -1");
  for (std::int64_t node = 0; node < nodes; ++node) {
    const auto n = static_cast<std::size_t>(node);
    const std::int64_t left = tree.left[n], right = tree.right[n];
    if (tree.size[n] < 0) throw node_problem(node, "has size " + std::to_string(tree.size[n]));
    if (tree.inertia[n] < 0) throw node_problem(node, "has a negative inertia");
    if (node > 0) {
      // Every other node hangs under an earlier one that names it as a child.
      const std::int64_t parent = tree.parent[n];
      if (parent < 0 || parent >= node)
        throw node_problem(node, "has parent " + std::to_string(parent) + "; expected a node in [0, " +
                                     std::to_string(node) + ")");
      const auto p = static_cast<std::size_t>(parent);
      if (tree.left[p] != node && tree.right[p] != node)
        throw node_problem(node, "has parent " + std::to_string(parent) + ", which does not name it as a child");
    }
    if (left == -1 && right == -1) {
      if (tree.label[n] < 0 || static_cast<std::uint64_t>(tree.label[n]) >= k)
        throw node_problem(node, "is a leaf with label " + std::to_string(tree.label[n]) + ", outside [0, k = " +
                                     std::to_string(k) + ")");
      continue;
    }
    // Children come after their parent (so descending the tree always ends).
    if (left <= node || right <= node || left >= nodes || right >= nodes || left == right)
      throw node_problem(node, "has children " + std::to_string(left) + " and " + std::to_string(right) +
                                   "; expected two later nodes (< " + std::to_string(nodes) + ") or -1 -1 for a leaf");
    if (tree.label[n] != -1)
      throw node_problem(node, "is split but has label " + std::to_string(tree.label[n]) + "; expected -1");
    std::int64_t sum = 0;
    if (__builtin_add_overflow(tree.size[static_cast<std::size_t>(left)], tree.size[static_cast<std::size_t>(right)], &sum) ||
        sum != tree.size[n])
      throw node_problem(node, "has size " + std::to_string(tree.size[n]) + ", not the sum of its children's");
  }
  // The leaves, depth-first and left first, are clusters 0, 1, …, k − 1 with the centroids'
  // centres: predict's labels and inertia come from the tree.
  const std::vector<std::size_t> leaves = tree.leaves();
  for (std::size_t c = 0; c < leaves.size(); ++c) {
    const auto leaf = static_cast<std::int64_t>(leaves[c]);
    if (tree.label[leaves[c]] != static_cast<std::int64_t>(c))
      throw node_problem(leaf, "is leaf " + std::to_string(c) + " in depth-first order but has label " +
                                   std::to_string(tree.label[leaves[c]]));
    if (std::memcmp(tree.centres.row(leaf).data(), centroids.row(static_cast<Eigen::Index>(c)).data(),
                    sizeof(T) * d) != 0)
      throw node_problem(leaf, "(cluster " + std::to_string(c) + ") has another centre than /centroids row " +
                                   std::to_string(c));
  }
}
template void check_bisecting_tree(const BisectingTree<float>&, const RowMatrix<float>&,
                                   const std::function<Error(const std::string&)>&);
template void check_bisecting_tree(const BisectingTree<double>&, const RowMatrix<double>&,
                                   const std::function<Error(const std::string&)>&);

// The standardization of a --standardize model: d finite means, d finite scales > 0 (also
// checked for a Python estimator's state: standardize reads d of each).
void check_scaling(const Scaling& scaling, std::uint64_t features, const std::function<Error(const std::string&)>& problem) {
  if (scaling.mean.size() != features || scaling.scale.size() != features)
    throw problem("/scaling has " + std::to_string(scaling.mean.size()) + " means and " +
                  std::to_string(scaling.scale.size()) + " scales for " + std::to_string(features) + " features");
  for (std::size_t j = 0; j < features; ++j) {
    if (!std::isfinite(scaling.mean[j]))
      throw problem("/scaling/mean element " + std::to_string(j) + " is not finite");
    if (!(scaling.scale[j] > 0) || !std::isfinite(scaling.scale[j]))
      throw problem("/scaling/scale element " + std::to_string(j) + " is not a finite number > 0");
  }
}

namespace {

// A bisecting model's /tree: a binary tree of 2k − 1 nodes whose leaves are the k centroids.
template <class T>
BisectingTree<T> read_tree(const SmallFile& in, const RowMatrix<T>& centroids) {
  const auto k = static_cast<std::uint64_t>(centroids.rows()), d = static_cast<std::uint64_t>(centroids.cols());
  const std::uint64_t m = 2 * k - 1;  // k − 1 splits, two children each
  BisectingTree<T> tree;
  tree.centres = in.matrix<T>("/tree/centers", m, d);
  tree.parent = in.vector<std::int64_t>("/tree/parent", m);
  tree.size = in.vector<std::int64_t>("/tree/size", m);
  tree.label = in.vector<std::int64_t>("/tree/label", m);
  tree.inertia = in.vector<double>("/tree/inertia", m);
  const RowMatrix<std::int64_t> children = in.matrix<std::int64_t>("/tree/children", m, 2);
  tree.left.assign(children.col(0).begin(), children.col(0).end());
  tree.right.assign(children.col(1).begin(), children.col(1).end());

  check_bisecting_tree(tree, centroids, [&](const std::string& what) { return in.problem(what); });
  return tree;
}

// The root attributes of the fit's result and settings that are present (docs/model-format.md);
// absent ones keep their defaults.
void read_record(const SmallFile& in, FitRecord& record) {
  const auto integer = [&](const char* name, std::int64_t& value) {
    if (in.has_attribute(name)) value = in.integer(name);
  };
  const auto real = [&](const char* name, double& value) {
    if (in.has_attribute(name)) value = in.real(name);
  };
  const auto text = [&](const char* name, std::string& value) {
    if (const auto present = in.text_if_present(name)) value = *present;
  };
  real("inertia", record.inertia);
  real("init_inertia", record.init_inertia);
  integer("n_iter", record.n_iter);
  std::int64_t flag = record.converged, seed = static_cast<std::int64_t>(record.seed),
               samples = static_cast<std::int64_t>(record.n_samples);
  integer("converged", flag);
  record.converged = flag != 0;
  integer("seed", seed);
  record.seed = static_cast<std::uint64_t>(seed);  // written as int64: the same 64 bits
  text("init", record.init);
  integer("n_init", record.n_init);
  integer("max_iter", record.max_iter);
  real("tol", record.tol);
  real("tol_absolute", record.tol_absolute);
  integer("n_samples", samples);
  if (samples < 0) throw in.problem("attribute n_samples is negative");
  record.n_samples = static_cast<std::uint64_t>(samples);
  text("input", record.input);
  if (in.has_attribute("sample_weight")) record.sample_weight = in.text("sample_weight");
  integer("best_restart", record.best_restart);
  if (in.has_attribute("oversampling")) record.oversampling = in.real("oversampling");
  if (in.has_attribute("init_rounds")) record.init_rounds = in.integer("init_rounds");
  integer("batch_size", record.minibatch.batch_size);
  integer("max_no_improvement", record.minibatch.max_no_improvement);
  integer("init_size", record.minibatch.init_size);
  integer("n_steps", record.minibatch.n_steps);
  real("reassignment_ratio", record.minibatch.reassignment_ratio);
  integer("sample", record.sample);
}

void read_history(const SmallFile& in, ModelHistory& history) {
  const auto read = [&](const char* name, std::vector<double>& values) {
    if (in.has(name)) values = in.vector<double>(name, std::nullopt);
  };
  read("/history/inertia", history.inertia);
  read("/history/center_shift", history.center_shift);
  read("/history/restart_inertia", history.restart_inertia);
  read("/history/ewa_inertia", history.ewa_inertia);
}

void read_timings(const SmallFile& in, ModelTimings& timings) {
  auto read = [&](const char* name, double& value) {
    if (in.has_attribute(name, "/timings")) value = in.real(name, "/timings");
  };
  for_each_phase(timings.phases, read);
  read("peak_rss_mb", timings.peak_rss_mb);
}

// fit --standardize: the features' mean and scale, and the centres of the scaled space that
// label rows (the model's /centroids are in data units).
template <class T>
void read_scaling(const SmallFile& in, Model<T>& model) {
  const auto k = static_cast<std::uint64_t>(model.centroids.rows());
  const auto d = static_cast<std::uint64_t>(model.centroids.cols());
  Scaling scaling;
  scaling.mean = in.vector<double>("/scaling/mean", d);
  scaling.scale = in.vector<double>("/scaling/scale", d);
  check_scaling(scaling, d, [&](const std::string& what) { return in.problem(what); });
  if (!in.has("/scaled_centroids")) throw in.problem("has /scaling but no /scaled_centroids");
  model.centroids = in.matrix<T>("/scaled_centroids", k, d);
  model.scaling = std::move(scaling);
}

template <class T>
Model<T> read_model_file(const SmallFile& in, const DatasetRef& ref, std::optional<std::uint64_t> features) {
  Model<T> model;
  if (ref.path != "/centroids" && !in.has(ref.path))
    throw in.problem("no dataset " + ref.path);
  if (ref.path == "/centroids" && !in.has("/centroids"))
    throw in.problem("no /centroids (not a model written by 'lloyd fit')");
  model.centroids = in.matrix<T>(ref.path, std::nullopt, std::nullopt);
  const auto k = static_cast<std::uint64_t>(model.centroids.rows());
  const auto d = static_cast<std::uint64_t>(model.centroids.cols());
  if (k == 0 || d == 0) throw in.problem(ref.path + " holds no centres (" + std::to_string(k) + " x " + std::to_string(d) + ")");
  if (k > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()))
    throw in.problem(ref.path + " has more than 2^31 - 1 centres");
  if (features && d != *features)
    throw in.problem(ref.path + " has " + std::to_string(d) + " features (columns) but the data have " +
                     std::to_string(*features));
  if (ref.path != "/centroids") return model;  // a bare dataset of centres: nearest centre

  if (in.has_attribute("format_version")) {
    const std::int64_t version = in.integer("format_version");
    if (version > kNewestModelFormatVersion)
      throw in.problem("format_version " + std::to_string(version) + " is newer than this lloyd reads (" +
                       std::to_string(kNewestModelFormatVersion) + "); use a newer lloyd");
    if (version < 1) throw in.problem("format_version " + std::to_string(version) + " is not a version (>= 1)");
  }
  if (in.has_attribute("k") && in.integer("k") != static_cast<std::int64_t>(k))
    throw in.problem("attribute k = " + std::to_string(in.integer("k")) + " but /centroids has " +
                     std::to_string(k) + " rows");
  if (in.has_attribute("n_features") && in.integer("n_features") != static_cast<std::int64_t>(d))
    throw in.problem("attribute n_features = " + std::to_string(in.integer("n_features")) +
                     " but /centroids has " + std::to_string(d) + " columns");
  if (in.has("/scaling")) read_scaling(in, model);
  const bool has_tree = in.has("/tree");
  model.algorithm = read_algorithm(in, has_tree);
  if (const auto metric = in.text_if_present("metric")) {
    expect_one_of(in, "metric", *metric, {"euclidean", "cosine"});
    model.cosine = *metric == "cosine";
    if (model.cosine && model.algorithm != ModelAlgorithm::Lloyd)
      throw in.problem("attribute metric is 'cosine', which only a Lloyd model (algorithm 'lloyd') can have");
    if (model.cosine && model.scaling)
      throw in.problem("has /scaling, but a cosine model (attribute metric 'cosine') is not standardized");
  }
  model.distance = read_distance(in, model.algorithm);
  if (const auto assignment = in.text_if_present("assignment")) {
    expect_one_of(in, "assignment", *assignment, {"lloyd", "hamerly", "yinyang"});
    model.record.assignment = parse_algorithm(*assignment);
  }
  if (const auto strategy = in.text_if_present("bisecting_strategy")) {
    expect_one_of(in, "bisecting_strategy", *strategy, {"biggest-inertia", "largest-cluster"});
    model.record.bisecting_strategy = parse_bisecting_strategy(*strategy);
  }
  if (const auto method = in.text_if_present("medoid_method")) {
    expect_one_of(in, "medoid_method", *method, {"alternate", "pam"});
    model.record.medoid_method = parse_medoid_method(*method);
  }
  if (model.algorithm == ModelAlgorithm::Bisecting) {
    if (!has_tree) throw in.problem("a bisecting model without /tree");
    model.tree = read_tree(in, model.centroids);
  } else if (has_tree) {
    throw in.problem("has a /tree, but only a bisecting model has one");
  }
  if (in.has("/labels")) model.label_rows = in.integer_length("/labels");
  read_record(in, model.record);
  read_history(in, model.history);
  if (in.has("/counts")) model.counts = in.vector<std::int64_t>("/counts", k);
  if (in.has("/medoid_indices")) {
    model.medoid_indices = in.vector<std::int64_t>("/medoid_indices", k);
    for (std::size_t c = 0; c < k; ++c)
      if (model.medoid_indices[c] < 0)
        throw in.problem("/medoid_indices element " + std::to_string(c) + " is negative");
  }
  read_timings(in, model.timings);
  return model;
}

}  // namespace

template <class T>
Model<T> read_model(const Comm& comm, const DatasetRef& ref, std::optional<std::uint64_t> features) {
  Model<T> model;
  // Every rank reads the small file on its own and reaches the same verdict.
  run_agreed(comm, [&] { model = read_model_file<T>(SmallFile(ref.file, "model"), ref, features); });
  return model;
}

template Model<float> read_model(const Comm&, const DatasetRef&, std::optional<std::uint64_t>);
template Model<double> read_model(const Comm&, const DatasetRef&, std::optional<std::uint64_t>);

namespace {

// Seconds of wall-clock time added to `total` when the scope ends.
class AddSeconds {
 public:
  explicit AddSeconds(double& total) : total_(total), start_(MPI_Wtime()) {}
  ~AddSeconds() { total_ += MPI_Wtime() - start_; }
  AddSeconds(const AddSeconds&) = delete;
  AddSeconds& operator=(const AddSeconds&) = delete;

 private:
  double& total_;
  double start_;
};

// The root attributes (docs/model-format.md, "Root attributes"). Not collective by itself:
// every rank writes the same values (HDF5 metadata), inside one agreed step.
template <class T>
void write_root_attributes(hid_t root, const Model<T>& model, const ModelLayout& layout) {
  const FitRecord& r = model.record;
  const auto int64 = [](auto value) { return static_cast<std::int64_t>(value); };
  write_attribute(root, "format_version", model.scaling ? kScaledModelFormatVersion : kModelFormatVersion);
  write_attribute(root, "inertia", r.inertia);
  write_attribute(root, "init_inertia", r.init_inertia);
  write_attribute(root, "n_iter", r.n_iter);
  write_attribute(root, "converged", int64(r.converged));
  write_attribute(root, "k", int64(model.centroids.rows()));
  write_attribute(root, "seed", int64(r.seed));
  write_attribute(root, "init", r.init);
  write_attribute(root, "n_init", r.n_init);
  write_attribute(root, "max_iter", r.max_iter);
  write_attribute(root, "tol", r.tol);
  write_attribute(root, "tol_absolute", r.tol_absolute);
  write_attribute(root, "n_samples", int64(r.n_samples));
  write_attribute(root, "n_features", int64(model.centroids.cols()));
  write_attribute(root, "input", r.input);
  if (!r.sample_weight.empty()) write_attribute(root, "sample_weight", r.sample_weight);
  write_attribute(root, "algorithm", std::string(to_string(model.algorithm)));
  if (layout.mode_attribute) write_attribute(root, "mode", std::string(to_string(model.algorithm)));
  if (layout.lloyd_attributes) {
    if (r.oversampling) write_attribute(root, "oversampling", *r.oversampling);
    if (r.init_rounds) write_attribute(root, "init_rounds", *r.init_rounds);
    write_attribute(root, "best_restart", r.best_restart);
    write_attribute(root, "assignment", std::string(to_string(r.assignment)));
    write_attribute(root, "metric", std::string(model.cosine ? "cosine" : "euclidean"));
  }
  if (layout.tree) write_attribute(root, "bisecting_strategy", std::string(to_string(r.bisecting_strategy)));
  if (layout.distance_attribute) write_attribute(root, "distance", std::string(to_string(model.distance)));
  if (layout.minibatch) {
    write_attribute(root, "batch_size", r.minibatch.batch_size);
    write_attribute(root, "max_no_improvement", r.minibatch.max_no_improvement);
    write_attribute(root, "reassignment_ratio", r.minibatch.reassignment_ratio);
    write_attribute(root, "init_size", r.minibatch.init_size);
    write_attribute(root, "n_steps", r.minibatch.n_steps);
  }
  if (layout.medoids) {
    write_attribute(root, "medoid_method", std::string(to_string(r.medoid_method)));
    write_attribute(root, "sample", r.sample);
  }
}

// The hierarchy of a bisecting fit under /tree, one entry per node. Collective.
template <class T>
void write_tree(OutputFile& file, const BisectingTree<T>& tree) {
  const std::uint64_t m = tree.nodes();
  std::vector<std::int64_t> children;
  for (std::size_t node = 0; node < m; ++node) {
    children.push_back(tree.left[node]);
    children.push_back(tree.right[node]);
  }
  file.create_group("/tree");
  file.write_replicated("/tree/parent", tree.parent.data(), m, 0);
  file.write_replicated("/tree/children", children.data(), m, 2);
  file.write_replicated("/tree/size", tree.size.data(), m, 0);
  file.write_replicated("/tree/inertia", tree.inertia.data(), m, 0);
  file.write_replicated("/tree/label", tree.label.data(), m, 0);
  file.write_replicated("/tree/centers", tree.centres.data(), m, static_cast<std::uint64_t>(tree.centres.cols()));
}

void write_vector(OutputFile& file, const std::string& name, const std::vector<double>& values) {
  file.write_replicated(name, values.data(), values.size(), 0);
}

}  // namespace

template <class T>
ModelWriter<T>::ModelWriter(const Comm& comm, const std::filesystem::path& path, bool replace_existing,
                            std::uint64_t label_rows)
    : comm_(comm), file_(comm, path, replace_existing), label_rows_(label_rows) {
  const AddSeconds timer(seconds_);
  file_.create_distributed<std::int32_t>("/labels", label_rows, 0);
}

template <class T>
void ModelWriter<T>::write_labels(std::uint64_t first_row, std::span<const std::int32_t> labels) {
  const AddSeconds timer(seconds_);
  file_.write_part("/labels", labels.data(), labels.size(), first_row, 0);
  labels_streamed_ = true;
}

template <class T>
void ModelWriter<T>::write_distances(std::uint64_t first_row, std::span<const double> distances) {
  const AddSeconds timer(seconds_);
  if (!distances_streamed_) file_.create_distributed<double>("/distance", label_rows_, 0);
  file_.write_part("/distance", distances.data(), distances.size(), first_row, 0);
  distances_streamed_ = true;
}

template <class T>
void ModelWriter<T>::commit(const Model<T>& model) {
  const ModelLayout layout = layout_of(model.algorithm);
  const double start = MPI_Wtime();
  // Every rank calls write_labels equally often, so every rank takes the same branch.
  if (!labels_streamed_) file_.write_part("/labels", model.labels.data(), model.labels.size(), model.first_row, 0);
  const auto k = static_cast<std::uint64_t>(model.centroids.rows());
  const auto d = static_cast<std::uint64_t>(model.centroids.cols());
  if (model.scaling) {
    // /centroids in data units for every other reader; the scaled space's centres label rows.
    const RowMatrix<T> data_units = unstandardize(*model.scaling, model.centroids);
    file_.write_replicated("/centroids", data_units.data(), k, d);
    file_.write_replicated("/scaled_centroids", model.centroids.data(), k, d);
    file_.create_group("/scaling");
    file_.write_replicated("/scaling/mean", model.scaling->mean.data(), d, 0);
    file_.write_replicated("/scaling/scale", model.scaling->scale.data(), d, 0);
  } else {
    file_.write_replicated("/centroids", model.centroids.data(), k, d);
  }
  if (model.has_distances && !distances_streamed_) {
    file_.create_distributed<double>("/distance", model.label_rows, 0);
    file_.write_part("/distance", model.distances.data(), model.distances.size(), model.first_row, 0);
  }
  file_.create_group("/history");
  write_vector(file_, "/history/inertia", model.history.inertia);
  if (layout.center_shift) write_vector(file_, "/history/center_shift", model.history.center_shift);
  if (layout.restart_inertia) write_vector(file_, "/history/restart_inertia", model.history.restart_inertia);
  if (layout.minibatch) {
    write_vector(file_, "/history/ewa_inertia", model.history.ewa_inertia);
    file_.write_replicated("/counts", model.counts.data(), model.counts.size(), 0);
  }
  if (layout.medoids) file_.write_replicated("/medoid_indices", model.medoid_indices.data(), model.medoid_indices.size(), 0);
  if (layout.tree) {
    if (!model.tree) throw AgreedError("a bisecting model needs its tree");  // every rank alike
    write_tree(file_, *model.tree);
  }
  file_.collective_step([&] { write_root_attributes(file_.root(), model, layout); });
  // Last, so that `write` covers the rest of the file.
  PhaseTimes phases = model.timings.phases;
  phases.write = seconds_ + (MPI_Wtime() - start);
  const ModelTimings timings = gather_timings(comm_, phases);
  {
    const Hid group = file_.create_group("/timings");  // closed before the file is
    file_.collective_step([&] {
      auto write = [&](const char* name, double value) { write_attribute(group.get(), name, value); };
      for_each_phase(timings.phases, write);
      write("peak_rss_mb", timings.peak_rss_mb);
    });
  }
  file_.commit();
}

template <class T>
void write_model(const Comm& comm, const std::filesystem::path& path, bool replace_existing, const Model<T>& model) {
  ModelWriter<T> writer(comm, path, replace_existing, model.label_rows);
  writer.commit(model);
}

template class ModelWriter<float>;
template class ModelWriter<double>;
template void write_model(const Comm&, const std::filesystem::path&, bool, const Model<float>&);
template void write_model(const Comm&, const std::filesystem::path&, bool, const Model<double>&);

}  // namespace lloyd
