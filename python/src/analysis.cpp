// Analysis: the internal cluster-validity scores (silhouette, Calinski–Harabasz, Davies–Bouldin)
// and the sweep over K (choose_k), on the library's kernels as `lloyd evaluate` and
// `lloyd choose-k` run them. python/lloyd/metrics.py and _select.py check the arguments.
#include <pybind11/stl.h>

#include <cmath>
#include <cstdio>

#include "bridge.hpp"
#include "lloyd/error.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/metrics/internal.hpp"
#include "lloyd/metrics/labels.hpp"
#include "lloyd/metrics/silhouette.hpp"
#include "lloyd/select/sweep.hpp"

namespace lloyd::python {

using namespace pybind11::literals;

namespace {

using Labels = py::array_t<std::int64_t, py::array::c_style>;
using Indices = py::array_t<std::int32_t, py::array::c_style>;
using Offsets = py::array_t<std::int64_t, py::array::c_style>;

// Collective over comm: this rank's labels as cluster indices (any integer values, as
// scikit-learn's LabelEncoder: each distinct value over all ranks is a cluster), checked as
// scikit-learn's check_number_of_labels: 1 < clusters < n_samples.
std::vector<std::int32_t> cluster_codes(const Comm& comm, const Labels& labels, std::int64_t rows,
                                        std::uint64_t global_rows) {
  std::optional<std::string> problem;
  if (labels.size() != rows)
    problem = "labels has " + std::to_string(labels.size()) + " values for " + std::to_string(rows) + " rows of X";
  comm.agree(problem);
  const EncodedLabels encoded = encode_labels(comm, std::span<const std::int64_t>(labels.data(), labels.size()));
  const auto clusters = static_cast<std::uint64_t>(encoded.values.size());
  if (clusters < 2 || clusters >= global_rows)
    throw AgreedError("Number of labels is " + std::to_string(clusters) +
                      ". Valid values are 2 to n_samples - 1 (inclusive)");
  check_cluster_labels(comm, encoded.codes, "labels");
  return encoded.codes;
}

py::tuple silhouette_tuple(const SilhouetteResult& s, bool samples) {
  return py::make_tuple(s.mean, s.standard_error, s.rows, samples ? py::object(to_numpy(s.values)) : py::none());
}

// The cosine silhouette of rows scaled to unit norm (the rows `fit --metric cosine` clusters).
template <class T>
SilhouetteResult cosine_score(const Comm& comm, const CsrShard<T>& unit_rows, std::span<const std::int32_t> codes,
                              std::uint64_t sample_size, std::uint64_t seed) {
  return sample_size ? sampled_cosine_silhouette(comm, unit_rows, codes, sample_size, seed)
                     : cosine_silhouette(comm, unit_rows, codes);
}

// Silhouette of dense rows (Euclidean, or cosine as `lloyd evaluate --metric cosine`);
// sample_size 0: the exact score (and, when `samples`, every row's value).
template <class T>
py::tuple silhouette_dense(const Rows<T>& X, const Labels& labels, bool cosine, std::uint64_t sample_size,
                           std::uint64_t seed, bool samples, const py::object& comm_handle) {
  SilhouetteResult s;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    const DenseShard<T> shard = dense_shard(comm, X, std::nullopt);
    const std::vector<std::int32_t> codes = cluster_codes(comm, labels, shard.local_rows(), shard.global_rows);
    if (cosine) {
      CsrShard<T> unit_rows = unit_rows_of(shard);
      s = cosine_score(comm, unit_rows, codes, sample_size, seed);
    } else {
      s = sample_size ? sampled_silhouette(comm, shard, codes, sample_size, seed) : silhouette(comm, shard, codes);
    }
  }
  return silhouette_tuple(s, samples);
}

template <class T>
py::tuple silhouette_sparse(const py::array_t<T, py::array::c_style>& data, const Indices& indices, const Offsets& indptr,
                            std::int64_t columns, const Labels& labels, std::uint64_t sample_size, std::uint64_t seed,
                            bool samples, const py::object& comm_handle) {
  SilhouetteResult s;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    CsrShard<T> unit_rows = csr_shard(comm, data, indices, indptr, columns, std::nullopt);
    const std::vector<std::int32_t> codes = cluster_codes(comm, labels, unit_rows.local_rows(), unit_rows.global_rows);
    normalize_rows(unit_rows);
    s = cosine_score(comm, unit_rows, codes, sample_size, seed);
  }
  return silhouette_tuple(s, samples);
}

// Calinski–Harabasz (`davies` false) or Davies–Bouldin of dense rows.
template <class T>
double mean_based_score(const Rows<T>& X, const Labels& labels, bool davies, const py::object& comm_handle) {
  py::gil_scoped_release unlocked;
  const Comm comm = communicator(comm_handle);
  const DenseShard<T> shard = dense_shard(comm, X, std::nullopt);
  const std::vector<std::int32_t> codes = cluster_codes(comm, labels, shard.local_rows(), shard.global_rows);
  return davies ? davies_bouldin(comm, shard, codes) : calinski_harabasz(comm, shard, codes);
}

// ------------------------------------------------------------------ choose_k

SweepOptions sweep_from(const py::dict& d) {
  SweepOptions o;
  o.k_min = d["k_min"].cast<int>();
  o.k_max = d["k_max"].cast<int>();
  o.silhouette = d["silhouette"].cast<bool>();
  o.calinski_harabasz = d["calinski_harabasz"].cast<bool>();
  o.davies_bouldin = d["davies_bouldin"].cast<bool>();
  o.gap = d["gap"].cast<bool>();
  o.gap_refs = d["gap_refs"].cast<int>();
  o.gap_reference = parse_gap_reference(d["gap_reference"].cast<std::string>());
  o.silhouette_max_exact = d["silhouette_max_exact"].cast<std::uint64_t>();
  o.silhouette_sample_size = d["silhouette_sample_size"].cast<std::uint64_t>();
  o.fit.init = parse_init_method(d["init"].cast<std::string>());
  o.fit.n_init = d["n_init"].cast<int>();
  o.fit.max_iter = d["max_iter"].cast<int>();
  o.fit.tol = d["tol"].cast<double>();
  o.fit.seed = d["seed"].cast<std::uint64_t>();
  try {
    o.fit.algorithm = parse_algorithm(d["algorithm"].cast<std::string>());
  } catch (const std::invalid_argument& e) {
    throw Error(std::string("algorithm: ") + e.what());
  }
  return o;
}

// `lloyd choose-k`'s progress line per finished fit, on rank 0.
SweepObserver progress_lines(const Comm& comm, bool verbose) {
  if (!verbose || comm.rank() != 0) return {};
  return [](const SweepProgress& p) {
    if (p.reference < 0)
      std::fprintf(stderr, "lloyd choose_k: [%d/%d] k=%d data inertia=%.10g n_iter=%d  %.2f s\n", p.done, p.total,
                   p.k, p.inertia, p.n_iter, p.seconds);
    else
      std::fprintf(stderr, "lloyd choose_k: [%d/%d] k=%d gap reference %d inertia=%.10g n_iter=%d  %.2f s\n", p.done,
                   p.total, p.k, p.reference, p.inertia, p.n_iter, p.seconds);
  };
}

py::dict sweep_to_dict(const SweepResult& r) {
  py::dict d;
  d["k"] = to_numpy(r.ks);
  d["n_iter"] = to_numpy(r.n_iter);
  d["inertia"] = to_numpy(r.inertia);
  d["silhouette"] = to_numpy(r.silhouette);
  d["silhouette_stderr"] = to_numpy(r.silhouette_stderr);
  d["calinski_harabasz"] = to_numpy(r.calinski_harabasz);
  d["davies_bouldin"] = to_numpy(r.davies_bouldin);
  d["gap"] = to_numpy(r.gap);
  d["gap_s"] = to_numpy(r.gap_s);
  d["log_w"] = to_numpy(r.log_w);
  d["reference_log_w"] = to_numpy(r.reference_log_w);
  d["silhouette_sampled"] = r.silhouette_sampled;
  py::dict best;
  best["inertia"] = r.elbow_k;
  best["silhouette"] = r.silhouette_k;
  best["calinski_harabasz"] = r.calinski_harabasz_k;
  best["davies_bouldin"] = r.davies_bouldin_k;
  best["gap"] = r.gap_k;
  d["best"] = best;
  return d;
}

template <class T>
py::dict choose_dense(const Rows<T>& X, const py::dict& options, bool cosine, const py::object& comm_handle,
                      int threads, bool verbose) {
  const SweepOptions o = sweep_from(options);
  SweepResult result;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    apply_thread_count(comm, threads, "n_threads");
    const DenseShard<T> shard = dense_shard(comm, X, std::nullopt);
    if (cosine) {
      CsrShard<T> unit_rows = unit_rows_of(shard);
      result = choose_k_cosine(comm, unit_rows, o, progress_lines(comm, verbose));
    } else {
      result = choose_k(comm, shard, o, progress_lines(comm, verbose));
    }
  }
  return sweep_to_dict(result);
}

template <class T>
py::dict choose_sparse(const py::array_t<T, py::array::c_style>& data, const Indices& indices, const Offsets& indptr,
                       std::int64_t columns, const py::dict& options, const py::object& comm_handle, int threads,
                       bool verbose) {
  const SweepOptions o = sweep_from(options);
  SweepResult result;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    apply_thread_count(comm, threads, "n_threads");
    CsrShard<T> unit_rows = csr_shard(comm, data, indices, indptr, columns, std::nullopt);
    normalize_rows(unit_rows);
    result = choose_k_cosine(comm, unit_rows, o, progress_lines(comm, verbose));
  }
  return sweep_to_dict(result);
}

template <class T>
void register_typed(py::module_& m) {
  m.def("silhouette_dense", &silhouette_dense<T>, py::arg("X").noconvert(), "labels"_a, "cosine"_a, "sample_size"_a,
        "seed"_a, "samples"_a, "comm"_a);
  m.def("silhouette_sparse", &silhouette_sparse<T>, py::arg("data").noconvert(), "indices"_a, "indptr"_a, "columns"_a,
        "labels"_a, "sample_size"_a, "seed"_a, "samples"_a, "comm"_a);
  m.def("mean_based_score", &mean_based_score<T>, py::arg("X").noconvert(), "labels"_a, "davies"_a, "comm"_a);
  m.def("choose_k_dense", &choose_dense<T>, py::arg("X").noconvert(), "options"_a, "cosine"_a, "comm"_a, "threads"_a,
        "verbose"_a);
  m.def("choose_k_sparse", &choose_sparse<T>, py::arg("data").noconvert(), "indices"_a, "indptr"_a, "columns"_a,
        "options"_a, "comm"_a, "threads"_a, "verbose"_a);
}

}  // namespace

void register_analysis(py::module_& m) {
  register_typed<double>(m);
  register_typed<float>(m);
}

}  // namespace lloyd::python
