#include "lloyd/core/tree.hpp"

#include "lloyd/core/distance.hpp"
#include "lloyd/error.hpp"

namespace lloyd {

BisectingStrategy parse_bisecting_strategy(const std::string& name) {
  if (name == "biggest-inertia" || name == "biggest_inertia") return BisectingStrategy::BiggestInertia;
  if (name == "largest-cluster" || name == "largest_cluster") return BisectingStrategy::LargestCluster;
  throw Error("unknown bisecting strategy '" + name + "': expected biggest-inertia or largest-cluster");
}

const char* to_string(BisectingStrategy strategy) {
  return strategy == BisectingStrategy::BiggestInertia ? "biggest-inertia" : "largest-cluster";
}

template <class T>
std::size_t BisectingTree<T>::descend(const T* row) const {
  std::size_t node = 0;
  const Eigen::Index d = centres.cols();
  while (!is_leaf(node)) {
    const auto l = static_cast<Eigen::Index>(left[node]), r = static_cast<Eigen::Index>(right[node]);
    const double to_left = squared_distance(row, centres.row(l).data(), d);
    const double to_right = squared_distance(row, centres.row(r).data(), d);
    node = static_cast<std::size_t>(to_right < to_left ? r : l);
  }
  return node;
}

template <class T>
std::vector<std::size_t> BisectingTree<T>::leaves() const {
  std::vector<std::size_t> order, stack = {0};
  while (!stack.empty()) {
    const std::size_t node = stack.back();
    stack.pop_back();
    if (is_leaf(node)) {
      order.push_back(node);
    } else {
      stack.push_back(static_cast<std::size_t>(right[node]));
      stack.push_back(static_cast<std::size_t>(left[node]));
    }
  }
  return order;
}

template struct BisectingTree<float>;
template struct BisectingTree<double>;

}  // namespace lloyd
