#include "lloyd/select/sweep.hpp"

#include <mpi.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <limits>
#include <optional>

#include "lloyd/error.hpp"
#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/driver.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/metrics/internal.hpp"
#include "lloyd/metrics/silhouette.hpp"
#include "lloyd/rng.hpp"
#include "lloyd/select/criteria.hpp"

namespace lloyd {

GapReference parse_gap_reference(const std::string& name) {
  if (name == "uniform") return GapReference::Uniform;
  if (name == "pca") return GapReference::Pca;
  throw Error("unknown gap reference '" + name + "' (expected uniform or pca)");
}

const char* to_string(GapReference reference) {
  return reference == GapReference::Uniform ? "uniform" : "pca";
}

template <class T>
GapReferenceSampler<T>::GapReferenceSampler(const Comm& comm, const DenseShard<T>& shard,
                                            GapReference kind, std::uint64_t seed)
    : shard_(shard), seed_(seed) {
  const Eigen::Index d = shard.features();
  rotated_ = kind == GapReference::Pca;
  mean_ = Eigen::VectorXd::Zero(d);
  rotation_ = Eigen::MatrixXd::Identity(d, d);
  if (rotated_) {
    // Principal axes from the exact covariance: identical bits on every rank and layout.
    const std::vector<std::int32_t> one_cluster(static_cast<std::size_t>(shard.local_rows()), 0);
    mean_ = cluster_means(comm, shard, one_cluster).overall.row(0).transpose();
    std::vector<ExactSum> products(static_cast<std::size_t>(d * d));
    Eigen::VectorXd centred(d);
    for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
      for (Eigen::Index j = 0; j < d; ++j)
        centred(j) = static_cast<double>(shard.rows(i, j)) - mean_(j);
      for (Eigen::Index a = 0; a < d; ++a)
        for (Eigen::Index b = a; b < d; ++b) products[a * d + b].add(centred(a) * centred(b));
    }
    ExactSum::allreduce(std::span<ExactSum>(products), comm);
    Eigen::MatrixXd covariance(d, d);
    for (Eigen::Index a = 0; a < d; ++a)
      for (Eigen::Index b = a; b < d; ++b)
        covariance(a, b) = covariance(b, a) =
            products[a * d + b].value() / static_cast<double>(shard.global_rows);
    rotation_ = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(covariance).eigenvectors();
  }
  std::vector<double> bounds(static_cast<std::size_t>(2 * d),
                             -std::numeric_limits<double>::infinity());
  Eigen::VectorXd x(d);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    for (Eigen::Index j = 0; j < d; ++j) x(j) = static_cast<double>(shard.rows(i, j)) - mean_(j);
    const Eigen::VectorXd z = rotated_ ? Eigen::VectorXd(rotation_.transpose() * x) : x;
    for (Eigen::Index j = 0; j < d; ++j) {
      bounds[j] = std::max(bounds[j], -z(j));
      bounds[d + j] = std::max(bounds[d + j], z(j));
    }
  }
  comm.allreduce(std::span<double>(bounds), MPI_MAX);
  lo_.resize(d);
  hi_.resize(d);
  for (Eigen::Index j = 0; j < d; ++j) {
    lo_(j) = -bounds[j];
    hi_(j) = bounds[d + j];
  }
}

template <class T>
DenseShard<T> GapReferenceSampler<T>::sample(int b) const {
  DenseShard<T> reference;
  reference.rows.resize(shard_.local_rows(), shard_.features());
  sample_into(b, reference);
  return reference;
}

template <class T>
void GapReferenceSampler<T>::sample_into(int b, DenseShard<T>& reference) const {
  const Eigen::Index d = shard_.features();
  const CounterRng rng(seed_);
  const std::uint64_t stream = stream_id(Stream::GapReference, static_cast<std::uint64_t>(b));
  if (reference.local_rows() != shard_.local_rows() || reference.features() != d)
    reference.rows.resize(shard_.local_rows(), d);
  reference.global_rows = shard_.global_rows;
  reference.first_row = shard_.first_row;
  reference.weights.clear();
  reference.has_weights = false;
  auto rows = reference.rows.mutable_matrix();
  Eigen::VectorXd z(d);
  for (Eigen::Index i = 0; i < shard_.local_rows(); ++i) {
    const std::uint64_t g = shard_.global_index(i);
    for (Eigen::Index j = 0; j < d; ++j)
      z(j) = std::fma(rng.uniform(stream, g * static_cast<std::uint64_t>(d) + static_cast<std::uint64_t>(j)),
                      hi_(j) - lo_(j), lo_(j));
    if (rotated_) {
      const Eigen::VectorXd x = rotation_ * z + mean_;
      for (Eigen::Index j = 0; j < d; ++j) rows(i, j) = static_cast<T>(x(j));
    } else {
      for (Eigen::Index j = 0; j < d; ++j) rows(i, j) = static_cast<T>(z(j));
    }
  }
}

namespace {

void check_sweep_options(const SweepOptions& options, std::uint64_t rows) {
  if (options.k_min < 1 || options.k_max < options.k_min)
    throw AgreedError("need 1 <= k-min <= k-max (got " + std::to_string(options.k_min) + ".." +
                      std::to_string(options.k_max) + ")");
  if (static_cast<std::uint64_t>(options.k_max) > rows)
    throw AgreedError("k-max " + std::to_string(options.k_max) + " exceeds the " +
                      std::to_string(rows) + " rows of the data");
  if (options.gap && options.gap_refs < 1)
    throw AgreedError("the gap statistic needs at least 1 reference set");
}

/// Counts the finished fits and tells the observer.
class SweepReporter {
 public:
  SweepReporter(const SweepOptions& options, const SweepObserver& observer)
      : observer_(observer), start_(MPI_Wtime()) {
    progress_.total = (options.k_max - options.k_min + 1) * (1 + (options.gap ? options.gap_refs : 0));
  }
  void operator()(int k, int reference, double inertia, int n_iter) {
    ++progress_.done;
    progress_.k = k;
    progress_.reference = reference;
    progress_.inertia = inertia;
    progress_.n_iter = n_iter;
    progress_.seconds = MPI_Wtime() - start_;
    if (observer_) observer_(progress_);
  }

 private:
  const SweepObserver& observer_;
  double start_;
  SweepProgress progress_;
};

/// The recommended K of every criterion computed.
void recommend(const SweepOptions& options, SweepResult& result) {
  // On log W, as the gap statistic: the first large drops do not flatten the rest.
  result.elbow_k = kneedle_elbow(result.ks, result.log_w);
  if (options.silhouette) result.silhouette_k = best_k(result.ks, result.silhouette, true);
  if (options.calinski_harabasz)
    result.calinski_harabasz_k = best_k(result.ks, result.calinski_harabasz, true);
  if (options.davies_bouldin)
    result.davies_bouldin_k = best_k(result.ks, result.davies_bouldin, false);
  if (options.gap) result.gap_k = gap_choice(result.ks, result.gap, result.gap_s);
}

/// The silhouette of a fit's labels, sampled beyond silhouette_max_exact rows: Euclidean on
/// dense rows, cosine on unit CSR rows.
template <class T>
SilhouetteResult sweep_silhouette(const Comm& comm, const DenseShard<T>& shard, std::span<const std::int32_t> labels,
                                  const SweepOptions& options, bool sampled) {
  return sampled ? sampled_silhouette(comm, shard, labels, options.silhouette_sample_size, options.fit.seed)
                 : silhouette(comm, shard, labels);
}
template <class T>
SilhouetteResult sweep_silhouette(const Comm& comm, const CsrShard<T>& unit_rows, std::span<const std::int32_t> labels,
                                  const SweepOptions& options, bool sampled) {
  return sampled ? sampled_cosine_silhouette(comm, unit_rows, labels, options.silhouette_sample_size,
                                             options.fit.seed)
                 : cosine_silhouette(comm, unit_rows, labels);
}

/// Collective over comm: records the data fit of one K (K, iterations, inertia, progress) and
/// its silhouette with the standard error (NaN when not asked for or undefined).
template <class Shard, class T>
void record_fit(const Comm& comm, const Shard& shard, int k, const KMeansResult<T>& model,
                const SweepOptions& options, SweepReporter& report, SweepResult& result) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  result.ks.push_back(k);
  result.n_iter.push_back(model.n_iter);
  result.inertia.push_back(model.inertia);
  report(k, -1, model.inertia, model.n_iter);
  // Metrics need at least two clusters in use; K-Means never leaves a cluster empty.
  const bool defined = k >= 2 && static_cast<std::uint64_t>(k) < shard.global_rows;
  double score = nan, error = nan;
  if (options.silhouette && defined) {
    const SilhouetteResult s = sweep_silhouette(comm, shard, model.labels, options, result.silhouette_sampled);
    score = s.mean;
    error = s.standard_error;
  }
  result.silhouette.push_back(score);
  result.silhouette_stderr.push_back(error);
}

}  // namespace

namespace {

/// Collective over comm: choose_k, the gap's reference sets made in `references` (the shard
/// itself when the caller gave it up: then it is overwritten once the data's fits are done).
template <class T>
SweepResult sweep_dense(const Comm& comm, const DenseShard<T>& shard, DenseShard<T>& references,
                        const SweepOptions& options, const SweepObserver& observer) {
  check_sweep_options(options, shard.global_rows);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  SweepReporter report(options, observer);
  std::optional<GapReferenceSampler<T>> sampler;
  if (options.gap) sampler.emplace(comm, shard, options.gap_reference, options.fit.seed);

  SweepResult result;
  result.silhouette_sampled = options.silhouette && shard.global_rows > options.silhouette_max_exact;
  auto fit_of = [&](int k) {
    KMeansOptions fit = options.fit;
    fit.k = k;
    return fit;
  };
  // The data's fits and criteria first, every K; then the references, each made once and
  // fitted at every K (the same fits as reference by reference per K: each is a function of
  // its data and options alone), so that one reference set is held at a time and the data
  // are no longer needed by then.
  for (int k = options.k_min; k <= options.k_max; ++k) {
    KMeansResult<T> model = fit_kmeans(comm, shard, fit_of(k));
    record_fit(comm, shard, k, model, options, report, result);
    const bool defined = k >= 2 && static_cast<std::uint64_t>(k) < shard.global_rows;
    result.calinski_harabasz.push_back(
        options.calinski_harabasz && defined ? calinski_harabasz(comm, shard, model.labels) : nan);
    result.davies_bouldin.push_back(
        options.davies_bouldin && defined ? davies_bouldin(comm, shard, model.labels) : nan);
    result.log_w.push_back(std::log(model.inertia));
  }
  const std::size_t ks = result.ks.size();
  std::vector<std::vector<double>> reference_log_w(ks);
  for (int b = 0; options.gap && b < options.gap_refs; ++b) {
    sampler->sample_into(b, references);
    for (std::size_t i = 0; i < ks; ++i) {
      const KMeansResult<T> null_model = fit_kmeans(comm, references, fit_of(result.ks[i]));
      reference_log_w[i].push_back(std::log(null_model.inertia));
      report(result.ks[i], b, null_model.inertia, null_model.n_iter);
    }
  }
  for (std::size_t i = 0; i < ks; ++i) {
    GapValue gap{nan, nan, result.log_w[i], nan};
    if (options.gap) gap = gap_value(result.log_w[i], reference_log_w[i]);
    result.gap.push_back(gap.gap);
    result.gap_s.push_back(gap.s);
    result.reference_log_w.push_back(gap.reference_mean);
  }
  recommend(options, result);
  return result;
}

}  // namespace

template <class T>
SweepResult choose_k(const Comm& comm, const DenseShard<T>& shard, const SweepOptions& options,
                     const SweepObserver& observer) {
  DenseShard<T> references;  // allocated by the first reference set
  return sweep_dense(comm, shard, references, options, observer);
}

template <class T>
SweepResult choose_k(const Comm& comm, DenseShard<T>&& shard, const SweepOptions& options,
                     const SweepObserver& observer) {
  if (shard.is_view()) return choose_k(comm, static_cast<const DenseShard<T>&>(shard), options, observer);
  return sweep_dense(comm, shard, shard, options, observer);
}

template <class T>
SweepResult choose_k_cosine(const Comm& comm, const CsrShard<T>& unit_rows, const SweepOptions& options,
                            const SweepObserver& observer) {
  check_sweep_options(options, unit_rows.global_rows);
  if (options.calinski_harabasz || options.davies_bouldin || options.gap)
    throw AgreedError("with the cosine metric choose-k computes the elbow and the silhouette only "
                      "(Calinski-Harabasz, Davies-Bouldin and the gap statistic are Euclidean)");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  SweepReporter report(options, observer);
  SweepResult result;
  result.silhouette_sampled = options.silhouette && unit_rows.global_rows > options.silhouette_max_exact;
  for (int k = options.k_min; k <= options.k_max; ++k) {
    KMeansOptions fit = options.fit;
    fit.k = k;
    fit.tol_absolute = fit.tol;  // as fit --metric cosine: unit centres need no data scale
    record_fit(comm, unit_rows, k, fit_spherical(comm, unit_rows, fit), options, report, result);
    for (std::vector<double>* unused : {&result.calinski_harabasz, &result.davies_bouldin, &result.gap,
                                        &result.gap_s, &result.reference_log_w})
      unused->push_back(nan);
    result.log_w.push_back(std::log(result.inertia.back()));
  }
  recommend(options, result);
  return result;
}

template class GapReferenceSampler<float>;
template class GapReferenceSampler<double>;
template SweepResult choose_k(const Comm&, const DenseShard<float>&, const SweepOptions&,
                              const SweepObserver&);
template SweepResult choose_k(const Comm&, const DenseShard<double>&, const SweepOptions&,
                              const SweepObserver&);
template SweepResult choose_k(const Comm&, DenseShard<float>&&, const SweepOptions&, const SweepObserver&);
template SweepResult choose_k(const Comm&, DenseShard<double>&&, const SweepOptions&, const SweepObserver&);
template SweepResult choose_k_cosine(const Comm&, const CsrShard<float>&, const SweepOptions&,
                                     const SweepObserver&);
template SweepResult choose_k_cosine(const Comm&, const CsrShard<double>&, const SweepOptions&,
                                     const SweepObserver&);

}  // namespace lloyd
