// From the same explicit initial centres, lloyd must reproduce scikit-learn's
// KMeans(algorithm="lloyd") (fixtures made by scripts/fixtures/make_fixtures.py).
#include <gtest/gtest.h>

#include "../test_support.hpp"
#include "lloyd/kmeans/driver.hpp"

namespace lloyd {
namespace {

struct ReferenceCase {
  const char* name;
  double relative_tolerance;  // centroids and inertia
};

class SklearnReference : public testing::TestWithParam<ReferenceCase> {};

template <class T>
void check_against_sklearn(const std::string& file, double tolerance) {
  Comm comm(MPI_COMM_WORLD);
  const test::Expected expected = test::read_expected(comm, file);
  const DatasetRef x{file, "/X"};
  const auto shard = read_shard<T>(comm, x, inspect_matrix(comm, x));
  const RowMatrix<T> init = read_matrix<T>(comm, {file, "/init"});
  KMeansOptions options;
  options.k = static_cast<int>(expected.k);
  options.init = InitMethod::Explicit;
  options.tol = expected.tol;
  options.max_iter = static_cast<int>(expected.max_iter);
  const KMeansResult<T> result = fit_kmeans(comm, shard, options, &init);

  EXPECT_EQ(result.n_iter, expected.n_iter);
  EXPECT_NEAR(result.inertia, expected.inertia, tolerance * expected.inertia);
  const double scale = expected.centroids.cwiseAbs().maxCoeff();
  for (Eigen::Index c = 0; c < expected.centroids.rows(); ++c)
    for (Eigen::Index j = 0; j < expected.centroids.cols(); ++j)
      EXPECT_NEAR(static_cast<double>(result.centroids(c, j)), expected.centroids(c, j),
                  tolerance * scale)
          << "centroid " << c << " feature " << j;
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    ASSERT_EQ(result.labels[static_cast<std::size_t>(i)],
              expected.labels[static_cast<std::size_t>(shard.global_index(i))])
        << "row " << shard.global_index(i);
}

TEST_P(SklearnReference, SameCentroidsInertiaLabelsAndIterations) {
  const ReferenceCase c = GetParam();
  const std::string file = test::data_path(std::string("lloyd_") + c.name + ".h5");
  Comm comm(MPI_COMM_WORLD);
  if (inspect_matrix(comm, {file, "/X"}).type == ElementType::Float32)
    check_against_sklearn<float>(file, c.relative_tolerance);
  else
    check_against_sklearn<double>(file, c.relative_tolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SklearnReference,
                         testing::Values(ReferenceCase{"blobs_f64", 1e-9},
                                         ReferenceCase{"empty_cluster", 1e-9},
                                         ReferenceCase{"maxiter3", 1e-9},
                                         ReferenceCase{"uneven", 1e-9},
                                         // scikit-learn computes float32 data in float32
                                         ReferenceCase{"blobs_f32", 2e-6}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace lloyd
