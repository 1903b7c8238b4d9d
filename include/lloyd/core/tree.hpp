#pragma once
// The hierarchy a bisecting fit produces (kmeans/bisecting.hpp) and a model file keeps
// (io/model.hpp): a vocabulary type below both.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lloyd/shard.hpp"

namespace lloyd {

/// Which leaf bisecting K-Means splits next (scikit-learn's `bisecting_strategy`).
enum class BisectingStrategy { BiggestInertia, LargestCluster };

/// "biggest-inertia" or "largest-cluster" (underscores accepted too); anything else is an
/// Error.
BisectingStrategy parse_bisecting_strategy(const std::string& name);
const char* to_string(BisectingStrategy strategy);

/// The hierarchy of a bisecting fit: node 0 is the root (all rows, centre = the mean);
/// every split appends its two children. Identical on every rank.
template <class T>
struct BisectingTree {
  std::vector<std::int64_t> parent;  ///< −1 for the root
  std::vector<std::int64_t> left, right;  ///< children, −1 for a leaf
  std::vector<std::int64_t> size;    ///< rows in the node
  /// Cluster of a leaf (leaves numbered depth-first, left first), −1 for inner nodes.
  std::vector<std::int64_t> label;
  std::vector<double> inertia;       ///< Σ‖x − centre‖² over the node's rows (exact sum)
  RowMatrix<T> centres;              ///< nodes × d

  std::size_t nodes() const { return parent.size(); }
  bool is_leaf(std::size_t node) const { return left[node] < 0; }
  /// The leaf a row descends to: at every inner node the nearer child (squared_distance;
  /// ties: left), as scikit-learn's BisectingKMeans.predict does.
  std::size_t descend(const T* row) const;
  /// Leaves in depth-first order (left before right) = in label order.
  std::vector<std::size_t> leaves() const;
};

}  // namespace lloyd
