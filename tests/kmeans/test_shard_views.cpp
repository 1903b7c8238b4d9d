// Fits and metrics on a shard that views memory it does not own (DenseShard::view_of, the
// zero-copy path of a NumPy array) give the same bits as on a shard owning the same values,
// at any rank count, and never write the viewed memory: the views here are of pages made
// read-only (mprotect), so any write would stop the test with SIGSEGV.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "../test_support.hpp"
#include "lloyd/core/scaling.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/io/row_source.hpp"
#include "lloyd/kmeans/bisecting.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/kmedians.hpp"
#include "lloyd/kmeans/kmedoids.hpp"
#include "lloyd/kmeans/minibatch.hpp"
#include "lloyd/kmeans/nearest.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/metrics/internal.hpp"
#include "lloyd/metrics/silhouette.hpp"
#include "lloyd/select/sweep.hpp"

namespace lloyd {
namespace {

// A copy of a shard's rows in pages that are read-only once filled, and a view of them.
template <class T>
class ReadOnlyCopy {
 public:
  explicit ReadOnlyCopy(const DenseShard<T>& owned) {
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    bytes_ = (static_cast<std::size_t>(owned.rows.size()) * sizeof(T) + page) / page * page;
    void* memory = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) throw std::runtime_error("mmap failed");
    data_ = static_cast<T*>(memory);
    std::memcpy(data_, owned.rows.data(), static_cast<std::size_t>(owned.rows.size()) * sizeof(T));
    if (mprotect(memory, bytes_, PROT_READ) != 0) throw std::runtime_error("mprotect failed");
    view_ = DenseShard<T>::view_of(data_, owned.local_rows(), owned.features(), owned.global_rows, owned.first_row);
    view_.weights = owned.weights;
    view_.has_weights = owned.has_weights;
  }
  ~ReadOnlyCopy() { munmap(data_, bytes_); }
  ReadOnlyCopy(const ReadOnlyCopy&) = delete;
  ReadOnlyCopy& operator=(const ReadOnlyCopy&) = delete;
  const DenseShard<T>& view() const { return view_; }

 private:
  T* data_ = nullptr;
  std::size_t bytes_ = 0;
  DenseShard<T> view_;
};

template <class T>
Blobs<T> blobs(const Comm& comm, std::uint64_t n = 1500, int d = 5) {
  BlobOptions options;
  options.samples = n;
  options.features = d;
  options.centers = 6;
  options.cluster_std = 1.5;
  options.seed = 11;
  return make_blobs<T>(comm, options);
}

template <class T>
void expect_same_bits(const RowMatrix<T>& a, const RowMatrix<T>& b, const std::string& what) {
  ASSERT_EQ(a.rows(), b.rows()) << what;
  ASSERT_EQ(a.cols(), b.cols()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(T)), 0) << what;
}

template <class T>
void kmeans_on_views_is_bit_identical() {
  Comm comm(MPI_COMM_WORLD);
  const Blobs<T> data = blobs<T>(comm);
  const ReadOnlyCopy<T> copy(data.data);
  for (const Algorithm algorithm : {Algorithm::Lloyd, Algorithm::Hamerly, Algorithm::Yinyang, Algorithm::Auto})
    for (const InitMethod init : {InitMethod::KMeansPlusPlus, InitMethod::KMeansParallel, InitMethod::Forgy,
                                  InitMethod::RandomPartition}) {
      KMeansOptions options;
      options.k = 7;
      options.n_init = 2;
      options.seed = 5;
      options.init = init;
      options.algorithm = algorithm;
      const std::string what = std::string(to_string(algorithm)) + " " + to_string(init);
      test::expect_same_fit(fit_kmeans(comm, copy.view(), options), fit_kmeans(comm, data.data, options), what);
    }
  KMeansOptions options;
  const RowMatrix<T> centres = data.centers.template cast<T>().topRows(6);
  options.k = 6;
  test::expect_same_fit(fit_kmeans(comm, copy.view(), options, &centres), fit_kmeans(comm, data.data, options, &centres),
                  "given centres");
  std::vector<std::int32_t> on_view, on_owned;
  EXPECT_EQ(predict_labels(comm, copy.view(), centres, on_view), predict_labels(comm, data.data, centres, on_owned));
  EXPECT_EQ(on_view, on_owned);
  EXPECT_EQ(predict_nearest(comm, copy.view(), centres, Distance::Manhattan, on_view),
            predict_nearest(comm, data.data, centres, Distance::Manhattan, on_owned));
  EXPECT_EQ(on_view, on_owned);
}

TEST(ShardViews, KMeansEveryAlgorithmAndInitIsBitIdentical) {
  kmeans_on_views_is_bit_identical<float>();
  kmeans_on_views_is_bit_identical<double>();
}

TEST(ShardViews, WeightedKMeansIsBitIdentical) {
  Comm comm(MPI_COMM_WORLD);
  Blobs<double> data = blobs<double>(comm);
  data.data.has_weights = true;
  for (Eigen::Index i = 0; i < data.data.local_rows(); ++i)
    data.data.weights.push_back(1.0 + static_cast<double>(data.data.global_index(i) % 5));
  const ReadOnlyCopy<double> copy(data.data);
  KMeansOptions options;
  options.k = 5;
  options.algorithm = Algorithm::Hamerly;
  test::expect_same_fit(fit_kmeans(comm, copy.view(), options), fit_kmeans(comm, data.data, options), "weighted");
}

TEST(ShardViews, BisectingIsBitIdentical) {
  Comm comm(MPI_COMM_WORLD);
  const Blobs<float> data = blobs<float>(comm);
  const ReadOnlyCopy<float> copy(data.data);
  for (const BisectingStrategy strategy : {BisectingStrategy::BiggestInertia, BisectingStrategy::LargestCluster}) {
    KMeansOptions options;
    options.k = 6;
    const BisectingResult<float> a = fit_bisecting(comm, copy.view(), options, strategy);
    const BisectingResult<float> b = fit_bisecting(comm, data.data, options, strategy);
    expect_same_bits(a.centroids, b.centroids, "bisecting");
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_EQ(a.inertia, b.inertia);
    EXPECT_EQ(a.inertia_history, b.inertia_history);
    std::vector<std::int32_t> on_view, on_owned;
    EXPECT_EQ(predict_tree(comm, copy.view(), a.tree, on_view), predict_tree(comm, data.data, b.tree, on_owned));
    EXPECT_EQ(on_view, on_owned);
  }
}

TEST(ShardViews, KMediansAndKMedoidsAreBitIdentical) {
  Comm comm(MPI_COMM_WORLD);
  const Blobs<double> data = blobs<double>(comm, 600, 3);
  const ReadOnlyCopy<double> copy(data.data);
  KMeansOptions options;
  options.k = 5;
  test::expect_same_fit(fit_kmedians(comm, copy.view(), options), fit_kmedians(comm, data.data, options), "kmedians");
  for (const MedoidMethod method : {MedoidMethod::Alternate, MedoidMethod::Pam})
    for (const std::uint64_t sample : {std::uint64_t{0}, std::uint64_t{250}}) {
      KMedoidsOptions medoids;
      medoids.method = method;
      medoids.sample = sample;
      const KMedoidsResult<double> a = fit_kmedoids(comm, copy.view(), options, medoids);
      const KMedoidsResult<double> b = fit_kmedoids(comm, data.data, options, medoids);
      test::expect_same_fit<double>(a, b, std::string("kmedoids ") + to_string(method));
      EXPECT_EQ(a.medoid_indices, b.medoid_indices);
    }
}

TEST(ShardViews, MiniBatchThroughShardSourceIsBitIdentical) {
  Comm comm(MPI_COMM_WORLD);
  const Blobs<float> data = blobs<float>(comm);
  const ReadOnlyCopy<float> copy(data.data);
  KMeansOptions options;
  options.k = 6;
  MiniBatchOptions batch;
  batch.batch_size = 200;
  auto view_source = shard_source(copy.view());
  auto owned_source = shard_source(data.data);
  const MiniBatchResult<float> a = fit_minibatch(comm, *view_source, options, batch);
  const MiniBatchResult<float> b = fit_minibatch(comm, *owned_source, options, batch);
  test::expect_same_fit<float>(a, b, "minibatch");
  EXPECT_EQ(a.counts, b.counts);
  EXPECT_EQ(a.n_steps, b.n_steps);
}

TEST(ShardViews, SphericalOnToCsrOfAViewIsBitIdentical) {
  Comm comm(MPI_COMM_WORLD);
  const Blobs<double> data = blobs<double>(comm);
  const ReadOnlyCopy<double> copy(data.data);
  CsrShard<double> from_view = to_csr(copy.view()), from_owned = to_csr(data.data);
  normalize_rows(from_view);
  normalize_rows(from_owned);
  KMeansOptions options;
  options.k = 4;
  test::expect_same_fit(fit_spherical(comm, from_view, options), fit_spherical(comm, from_owned, options), "spherical");
}

TEST(ShardViews, MetricsAndChooseKAreBitIdentical) {
  Comm comm(MPI_COMM_WORLD);
  const Blobs<float> data = blobs<float>(comm, 700, 4);
  const ReadOnlyCopy<float> copy(data.data);
  const std::span<const std::int32_t> truth(data.truth);
  const SilhouetteResult a = silhouette(comm, copy.view(), truth), b = silhouette(comm, data.data, truth);
  EXPECT_EQ(a.mean, b.mean);
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(sampled_silhouette(comm, copy.view(), truth, 300, 3).mean,
            sampled_silhouette(comm, data.data, truth, 300, 3).mean);
  EXPECT_EQ(calinski_harabasz(comm, copy.view(), truth), calinski_harabasz(comm, data.data, truth));
  EXPECT_EQ(davies_bouldin(comm, copy.view(), truth), davies_bouldin(comm, data.data, truth));
  SweepOptions sweep;
  sweep.k_min = 2;
  sweep.k_max = 4;
  sweep.gap_refs = 2;
  const SweepResult x = choose_k(comm, copy.view(), sweep), y = choose_k(comm, data.data, sweep);
  EXPECT_EQ(x.inertia, y.inertia);
  EXPECT_EQ(x.silhouette, y.silhouette);
  EXPECT_EQ(x.calinski_harabasz, y.calinski_harabasz);
  EXPECT_EQ(x.davies_bouldin, y.davies_bouldin);
  EXPECT_EQ(x.gap, y.gap);
}

// standardize copies a view before scaling it (make_owned): the same scaled bits as on the
// owned shard, and the viewed (read-only) memory untouched.
TEST(ShardViews, StandardizeScalesAnOwnedCopyOfAView) {
  Comm comm(MPI_COMM_WORLD);
  Blobs<double> data = blobs<double>(comm, 300, 3);
  const ReadOnlyCopy<double> copy(data.data);
  DenseShard<double> scaled = copy.view();
  const Scaling scaling = fit_standard_scaling(comm, scaled);
  EXPECT_EQ(scaling.mean, fit_standard_scaling(comm, data.data).mean);
  standardize(scaling, scaled);
  standardize(scaling, data.data);
  EXPECT_FALSE(scaled.is_view());
  EXPECT_TRUE(copy.view().is_view());
  expect_same_bits(RowMatrix<double>(scaled.rows.matrix()), RowMatrix<double>(data.data.rows.matrix()), "scaled");
}

}  // namespace
}  // namespace lloyd
