#include "lloyd/kmeans/engine.hpp"

#include "lloyd/error.hpp"

namespace lloyd {

void check_cluster_count(std::int64_t k, std::uint64_t rows, const std::string& data) {
  if (k < 1 || static_cast<std::uint64_t>(k) > rows)
    throw AgreedError("k = " + std::to_string(k) + " must be between 1 and the number of rows of " +
                      data + " (" + std::to_string(rows) + ")");
}

void check_initial_centres(Eigen::Index rows, Eigen::Index cols, std::int64_t k, Eigen::Index d,
                           const std::string& name) {
  if (rows != k || cols != d)
    throw AgreedError(name + " are " + std::to_string(rows) + " x " + std::to_string(cols) +
                      "; expected k x d = " + std::to_string(k) + " x " + std::to_string(d));
}

}  // namespace lloyd
