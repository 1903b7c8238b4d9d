#include "lloyd/io/model.hpp"

#include <cstring>
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
  for (const auto& known : kAlgorithms)
    if (name == known.name) return known.algorithm;
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

  const auto nodes = static_cast<std::int64_t>(m);
  auto node_problem = [&](std::int64_t node, const std::string& what) {
    return in.problem("/tree node " + std::to_string(node) + " " + what);
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
  return tree;
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

  if (in.has_attribute("k") && in.integer("k") != static_cast<std::int64_t>(k))
    throw in.problem("attribute k = " + std::to_string(in.integer("k")) + " but /centroids has " +
                     std::to_string(k) + " rows");
  if (in.has_attribute("n_features") && in.integer("n_features") != static_cast<std::int64_t>(d))
    throw in.problem("attribute n_features = " + std::to_string(in.integer("n_features")) +
                     " but /centroids has " + std::to_string(d) + " columns");
  const bool has_tree = in.has("/tree");
  model.algorithm = read_algorithm(in, has_tree);
  if (const auto metric = in.text_if_present("metric")) {
    expect_one_of(in, "metric", *metric, {"euclidean", "cosine"});
    model.cosine = *metric == "cosine";
    if (model.cosine && model.algorithm != ModelAlgorithm::Lloyd)
      throw in.problem("attribute metric is 'cosine', which only a Lloyd model (algorithm 'lloyd') can have");
  }
  model.distance = read_distance(in, model.algorithm);
  if (const auto assignment = in.text_if_present("assignment"))
    expect_one_of(in, "assignment", *assignment, {"lloyd", "hamerly", "yinyang"});
  if (const auto strategy = in.text_if_present("bisecting_strategy"))
    expect_one_of(in, "bisecting_strategy", *strategy, {"biggest-inertia", "largest-cluster"});
  if (model.algorithm == ModelAlgorithm::Bisecting) {
    if (!has_tree) throw in.problem("a bisecting model without /tree");
    model.tree = read_tree(in, model.centroids);
  } else if (has_tree) {
    throw in.problem("has a /tree, but only a bisecting model has one");
  }
  if (in.has("/labels")) model.label_rows = in.integer_length("/labels");
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

}  // namespace lloyd
