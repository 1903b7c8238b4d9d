// Fit, predict, transform, save and load: the engine's Model as a Python dict of NumPy arrays
// and plain values (so that a fitted estimator pickles, and clones, as scikit-learn expects),
// converted to and from Model<T> at each call. Every fit and every label goes through the
// library's fit_model / predict_model, as `lloyd fit` and `lloyd predict` do.
#include <pybind11/stl.h>

#include "bridge.hpp"
#include "lloyd/error.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/io/model.hpp"
#include "lloyd/io/output_path.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/kmeans/fit_model.hpp"
#include "lloyd/kmeans/row_distances.hpp"
#include "lloyd/kmeans/spherical.hpp"
#include "lloyd/metrics/labels.hpp"

namespace lloyd::python {

using namespace pybind11::literals;

namespace {

using Dict = py::dict;

// A field of a settings or model-state dict: a state edited by hand (or unpickled from
// elsewhere) gets lloyd's one line, not pybind11's "Unable to cast Python instance".
template <class V>
V get(const Dict& d, const char* key) {
  if (!d.contains(key)) throw Error(std::string("model state has no '") + key + "'");
  try {
    return d[key].cast<V>();
  } catch (const py::cast_error&) {
    throw Error(std::string("'") + key + "' is " + std::string(py::repr(d[key])) +
                ", not a value of the expected type and range (a model state edited by hand?)");
  }
}

Error state_problem(const std::string& what) { return Error("model state: " + what); }

// ------------------------------------------------------------------ settings

FitSettings settings_from(const Dict& d) {
  FitSettings s;
  const auto mode = parse_model_algorithm(get<std::string>(d, "mode"));
  if (!mode) throw Error("mode must be one of lloyd, bisecting, minibatch, kmedians, kmedoids; got '" +
                         get<std::string>(d, "mode") + "'");
  s.mode = *mode;
  KMeansOptions& o = s.options;
  o.k = get<int>(d, "k");
  s.init_text = get<std::string>(d, "init");
  o.init = parse_init_method(s.init_text);
  o.n_init = get<int>(d, "n_init");
  o.max_iter = get<int>(d, "max_iter");
  o.tol = get<double>(d, "tol");
  o.seed = get<std::uint64_t>(d, "seed");
  o.oversampling = get<double>(d, "oversampling");
  o.init_rounds = get<int>(d, "init_rounds");
  try {
    o.algorithm = parse_algorithm(get<std::string>(d, "algorithm"));
  } catch (const std::invalid_argument& e) {
    throw Error(std::string("algorithm: ") + e.what());
  }
  s.cosine = get<bool>(d, "cosine");
  s.strategy = parse_bisecting_strategy(get<std::string>(d, "bisecting_strategy"));
  s.batch.batch_size = get<std::uint64_t>(d, "batch_size");
  s.batch.max_no_improvement = get<int>(d, "max_no_improvement");
  s.batch.reassignment_ratio = get<double>(d, "reassignment_ratio");
  s.batch.init_size = get<std::uint64_t>(d, "init_size");
  s.medoids.method = parse_medoid_method(get<std::string>(d, "medoid_method"));
  s.medoids.distance = parse_distance(get<std::string>(d, "distance"));
  s.medoids.sample = get<std::uint64_t>(d, "sample");
  return s;
}

// ------------------------------------------------------------------ Model <-> dict

template <class T>
Dict tree_to_dict(const BisectingTree<T>& tree) {
  Dict d;
  d["parent"] = to_numpy(tree.parent);
  d["left"] = to_numpy(tree.left);
  d["right"] = to_numpy(tree.right);
  d["size"] = to_numpy(tree.size);
  d["label"] = to_numpy(tree.label);
  d["inertia"] = to_numpy(tree.inertia);
  d["centres"] = to_numpy(tree.centres);
  return d;
}

template <class T>
BisectingTree<T> tree_from(const Dict& d) {
  BisectingTree<T> tree;
  tree.parent = vector_from<std::int64_t>(d["parent"]);
  tree.left = vector_from<std::int64_t>(d["left"]);
  tree.right = vector_from<std::int64_t>(d["right"]);
  tree.size = vector_from<std::int64_t>(d["size"]);
  tree.label = vector_from<std::int64_t>(d["label"]);
  tree.inertia = vector_from<double>(d["inertia"]);
  tree.centres = matrix_from<T>(d["centres"].cast<Rows<T>>(), "tree centres");
  return tree;
}

template <class T>
Dict model_to_dict(const Model<T>& m) {
  Dict d;
  d["centroids"] = to_numpy(m.centroids);
  d["algorithm"] = to_string(m.algorithm);
  d["cosine"] = m.cosine;
  d["distance"] = to_string(m.distance);
  d["labels"] = to_numpy(m.labels);
  d["first_row"] = m.first_row;
  d["label_rows"] = m.label_rows;
  const FitRecord& r = m.record;
  Dict record;
  record["inertia"] = r.inertia;
  record["init_inertia"] = r.init_inertia;
  record["n_iter"] = r.n_iter;
  record["converged"] = r.converged;
  record["seed"] = r.seed;
  record["init"] = r.init;
  record["n_init"] = r.n_init;
  record["max_iter"] = r.max_iter;
  record["tol"] = r.tol;
  record["tol_absolute"] = r.tol_absolute;
  record["n_samples"] = r.n_samples;
  record["input"] = r.input;
  record["sample_weight"] = r.sample_weight;
  record["best_restart"] = r.best_restart;
  record["assignment"] = to_string(r.assignment);
  record["oversampling"] = r.oversampling ? py::object(py::float_(*r.oversampling)) : py::none();
  record["init_rounds"] = r.init_rounds ? py::object(py::int_(*r.init_rounds)) : py::none();
  record["bisecting_strategy"] = to_string(r.bisecting_strategy);
  record["batch_size"] = r.minibatch.batch_size;
  record["max_no_improvement"] = r.minibatch.max_no_improvement;
  record["init_size"] = r.minibatch.init_size;
  record["n_steps"] = r.minibatch.n_steps;
  record["reassignment_ratio"] = r.minibatch.reassignment_ratio;
  record["medoid_method"] = to_string(r.medoid_method);
  record["sample"] = r.sample;
  d["record"] = record;
  Dict history;
  history["inertia"] = to_numpy(m.history.inertia);
  history["center_shift"] = to_numpy(m.history.center_shift);
  history["restart_inertia"] = to_numpy(m.history.restart_inertia);
  history["ewa_inertia"] = to_numpy(m.history.ewa_inertia);
  d["history"] = history;
  d["counts"] = to_numpy(m.counts);
  d["medoid_indices"] = to_numpy(m.medoid_indices);
  d["tree"] = m.tree ? py::object(tree_to_dict(*m.tree)) : py::none();
  const PhaseTimes& t = m.timings.phases;  // this rank's seconds (not part of the model's state)
  d["phases"] = Dict("io"_a = t.io, "init"_a = t.init, "assign"_a = t.assign, "reduce"_a = t.reduce,
                     "update"_a = t.update, "checkpoint"_a = t.checkpoint, "write"_a = t.write);
  if (m.scaling) {
    Dict scaling;
    scaling["mean"] = to_numpy(m.scaling->mean);
    scaling["scale"] = to_numpy(m.scaling->scale);
    d["scaling"] = scaling;
  } else {
    d["scaling"] = py::none();
  }
  return d;
}

template <class T>
Model<T> model_from(const Dict& d, bool with_labels) {
  Model<T> m;
  m.centroids = matrix_from<T>(d["centroids"].cast<Rows<T>>(), "cluster centres");
  // The same checks as a model file's (read_model): every later call indexes by them.
  if (m.centroids.rows() == 0 || m.centroids.cols() == 0)
    throw state_problem("no cluster centres (" + std::to_string(m.centroids.rows()) + " x " +
                        std::to_string(m.centroids.cols()) + ")");
  const auto algorithm = parse_model_algorithm(get<std::string>(d, "algorithm"));
  if (!algorithm) throw Error("model state: unknown algorithm");
  m.algorithm = *algorithm;
  m.cosine = get<bool>(d, "cosine");
  m.distance = parse_distance(get<std::string>(d, "distance"));
  if (!d["tree"].is_none()) {
    m.tree = tree_from<T>(d["tree"].cast<Dict>());
    check_bisecting_tree(*m.tree, m.centroids, state_problem);
  }
  if (m.algorithm == ModelAlgorithm::Bisecting && !m.tree) throw state_problem("a bisecting model needs its tree");
  if (!d["scaling"].is_none()) {
    const Dict scaling = d["scaling"].cast<Dict>();
    m.scaling = Scaling{vector_from<double>(scaling["mean"]), vector_from<double>(scaling["scale"])};
    check_scaling(*m.scaling, static_cast<std::uint64_t>(m.centroids.cols()), state_problem);
  }
  const Dict r = d["record"].cast<Dict>();
  FitRecord& record = m.record;
  record.inertia = get<double>(r, "inertia");
  record.init_inertia = get<double>(r, "init_inertia");
  record.n_iter = get<std::int64_t>(r, "n_iter");
  record.converged = get<bool>(r, "converged");
  record.seed = get<std::uint64_t>(r, "seed");
  record.init = get<std::string>(r, "init");
  record.n_init = get<std::int64_t>(r, "n_init");
  record.max_iter = get<std::int64_t>(r, "max_iter");
  record.tol = get<double>(r, "tol");
  record.tol_absolute = get<double>(r, "tol_absolute");
  record.n_samples = get<std::uint64_t>(r, "n_samples");
  record.input = get<std::string>(r, "input");
  record.sample_weight = get<std::string>(r, "sample_weight");
  record.best_restart = get<std::int64_t>(r, "best_restart");
  record.assignment = parse_algorithm(get<std::string>(r, "assignment"));
  if (!r["oversampling"].is_none()) record.oversampling = get<double>(r, "oversampling");
  if (!r["init_rounds"].is_none()) record.init_rounds = get<std::int64_t>(r, "init_rounds");
  record.bisecting_strategy = parse_bisecting_strategy(get<std::string>(r, "bisecting_strategy"));
  record.minibatch.batch_size = get<std::int64_t>(r, "batch_size");
  record.minibatch.max_no_improvement = get<std::int64_t>(r, "max_no_improvement");
  record.minibatch.init_size = get<std::int64_t>(r, "init_size");
  record.minibatch.n_steps = get<std::int64_t>(r, "n_steps");
  record.minibatch.reassignment_ratio = get<double>(r, "reassignment_ratio");
  record.medoid_method = parse_medoid_method(get<std::string>(r, "medoid_method"));
  record.sample = get<std::int64_t>(r, "sample");
  const Dict h = d["history"].cast<Dict>();
  m.history.inertia = vector_from<double>(h["inertia"]);
  m.history.center_shift = vector_from<double>(h["center_shift"]);
  m.history.restart_inertia = vector_from<double>(h["restart_inertia"]);
  m.history.ewa_inertia = vector_from<double>(h["ewa_inertia"]);
  m.counts = vector_from<std::int64_t>(d["counts"]);
  m.medoid_indices = vector_from<std::int64_t>(d["medoid_indices"]);
  m.label_rows = get<std::uint64_t>(d, "label_rows");
  m.first_row = get<std::uint64_t>(d, "first_row");
  if (with_labels) m.labels = vector_from<std::int32_t>(d["labels"]);
  return m;
}

// ------------------------------------------------------------------ fit

// Rank 0's progress lines (verbose), and Ctrl-C: the engine polls for a stop once per
// iteration (any rank asking stops every rank after that iteration); here the poll runs Python's
// signal handlers, so a KeyboardInterrupt in a notebook ends the fit cleanly (nothing is saved).
template <class T>
FitHooks<T> fit_hooks(const Comm& comm, bool verbose) {
  FitHooks<T> hooks;
  hooks.control = [](const std::string&, const std::function<std::uint64_t()>&) {
    FitControl<T> control;
    control.stop_requested = [] {
      py::gil_scoped_acquire locked;
      return PyErr_CheckSignals() != 0;
    };
    control.save = [](const FitState<T>&) {};  // stopping needs a save; there is nothing to keep
    return control;
  };
  if (!verbose || comm.rank() != 0) return hooks;
  hooks.iteration = [](const IterationStats& s) {
    std::fprintf(stderr, "lloyd: restart %d/%d iter %4d  inertia %.10g  center_shift %.4g  %.3f s\n", s.restart + 1,
                 s.restarts, s.iteration, s.inertia, s.center_shift, s.seconds);
  };
  hooks.split = [](const SplitStats& s) {
    std::fprintf(stderr, "lloyd: split %d  node %lld (%lld rows)  inertia %.10g  %.3f s\n", s.split,
                 static_cast<long long>(s.node), static_cast<long long>(s.size), s.inertia, s.seconds);
  };
  return hooks;
}

// A fit stopped by Ctrl-C raises KeyboardInterrupt (on every rank: the others did not see it).
template <class T>
void raise_if_interrupted(const FitOutcome<T>& fit) {
  if (!fit.interrupted) return;
  if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
  throw py::error_already_set();
}

template <class T>
std::optional<RowMatrix<T>> initial_centres(const py::object& init, const FitSettings& settings, std::int64_t features) {
  if (init.is_none()) return std::nullopt;
  RowMatrix<T> centres = matrix_from<T>(init.cast<Rows<T>>(), "init");
  check_initial_centres(centres.rows(), centres.cols(), settings.options.k, features, "init");
  return centres;
}

template <class T>
Dict fit_dense(const py::array_t<T, py::array::c_style>& X, const Dict& settings_dict, const py::object& init,
               const std::optional<py::array_t<double>>& sample_weight, const py::object& comm_handle, int threads,
               bool verbose) {
  const FitSettings settings = settings_from(settings_dict);
  FitOutcome<T> fit;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    apply_thread_count(comm, threads, "n_threads");
    DenseShard<T> shard = dense_shard(comm, X, sample_weight);
    const std::optional<RowMatrix<T>> centres = initial_centres<T>(init, settings, shard.features());
    check_cluster_count(centres ? centres->rows() : settings.options.k, shard.global_rows, "X");
    if (settings.cosine) {
      CsrShard<T> unit_rows = unit_rows_of(shard);
      fit = fit_model(comm, settings, unit_rows, centres ? &*centres : nullptr, fit_hooks<T>(comm, verbose));
    } else {
      fit = fit_model(comm, settings, shard, centres ? &*centres : nullptr, fit_hooks<T>(comm, verbose));
    }
  }
  raise_if_interrupted(fit);
  return model_to_dict(fit.model);
}

template <class T>
Dict fit_sparse(const py::array_t<T, py::array::c_style>& data, const py::array_t<std::int32_t, py::array::c_style>& indices,
                const py::array_t<std::int64_t, py::array::c_style>& indptr, std::int64_t columns,
                const Dict& settings_dict, const py::object& init, const std::optional<py::array_t<double>>& sample_weight,
                const py::object& comm_handle, int threads, bool verbose) {
  const FitSettings settings = settings_from(settings_dict);
  if (!settings.cosine) throw Error("sparse X is clustered with metric='cosine' (spherical K-Means) only");
  FitOutcome<T> fit;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    apply_thread_count(comm, threads, "n_threads");
    CsrShard<T> unit_rows = csr_shard(comm, data, indices, indptr, columns, sample_weight);
    normalize_rows(unit_rows);
    const std::optional<RowMatrix<T>> centres = initial_centres<T>(init, settings, columns);
    check_cluster_count(centres ? centres->rows() : settings.options.k, unit_rows.global_rows, "X");
    fit = fit_model(comm, settings, unit_rows, centres ? &*centres : nullptr, fit_hooks<T>(comm, verbose));
  }
  raise_if_interrupted(fit);
  return model_to_dict(fit.model);
}

// ------------------------------------------------------------------ predict / transform

void check_width(std::int64_t model_features, std::int64_t features) {
  if (model_features != features)
    throw AgreedError("X has " + std::to_string(features) + " features, but the model was fitted with " +
                      std::to_string(model_features) + " features");
}

template <class T>
DenseShard<T> scaled_rows(const Comm& comm, const Model<T>& model, const Rows<T>& X,
                          const std::optional<py::array_t<double>>& sample_weight) {
  DenseShard<T> shard = dense_shard(comm, X, sample_weight);
  check_width(model.centroids.cols(), shard.features());
  if (model.scaling) standardize(*model.scaling, shard);  // on a copy: the array is the user's
  return shard;
}

// Labels, inertia and (when `distances`) each row's distance to its centre: `lloyd predict`.
template <class T>
py::tuple predict_dense(const Dict& state, const Rows<T>& X, const std::optional<py::array_t<double>>& sample_weight,
                        const py::object& comm_handle, bool distances) {
  const Model<T> model = model_from<T>(state, false);
  std::vector<std::int32_t> labels;
  std::vector<double> to_centre;
  double inertia = 0;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    const DenseShard<T> shard = scaled_rows(comm, model, X, sample_weight);
    if (model.cosine) {
      CsrShard<T> unit_rows = unit_rows_of(shard);
      inertia = predict_model(comm, model, unit_rows, labels);
      if (distances) {
        to_centre.resize(labels.size());
        distances_to_labels(unit_rows, model.centroids, Distance::Cosine, labels, to_centre);
      }
    } else {
      inertia = predict_model(comm, model, shard, labels);
      if (distances) {
        to_centre.resize(labels.size());
        distances_to_labels(shard, model.centroids, model_distance(model), labels, to_centre);
      }
    }
  }
  return py::make_tuple(to_numpy(labels), inertia, distances ? py::object(to_numpy(to_centre)) : py::none());
}

template <class T>
py::tuple predict_sparse(const Dict& state, const py::array_t<T, py::array::c_style>& data,
                         const py::array_t<std::int32_t, py::array::c_style>& indices,
                         const py::array_t<std::int64_t, py::array::c_style>& indptr, std::int64_t columns,
                         const std::optional<py::array_t<double>>& sample_weight, const py::object& comm_handle,
                         bool distances) {
  const Model<T> model = model_from<T>(state, false);
  if (!model.cosine) throw Error("sparse X is labelled by a cosine model only (metric='cosine')");
  std::vector<std::int32_t> labels;
  std::vector<double> to_centre;
  double inertia = 0;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    CsrShard<T> unit_rows = csr_shard(comm, data, indices, indptr, columns, sample_weight);
    check_width(model.centroids.cols(), columns);
    normalize_rows(unit_rows);
    inertia = predict_model(comm, model, unit_rows, labels);
    if (distances) {
      to_centre.resize(labels.size());
      distances_to_labels(unit_rows, model.centroids, Distance::Cosine, labels, to_centre);
    }
  }
  return py::make_tuple(to_numpy(labels), inertia, distances ? py::object(to_numpy(to_centre)) : py::none());
}

// Distances of every row to every centre (scikit-learn's transform), n × k float64.
template <class T>
py::array_t<double> transform_dense(const Dict& state, const Rows<T>& X, const py::object& comm_handle) {
  const Model<T> model = model_from<T>(state, false);
  RowMatrix<double> out;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    const DenseShard<T> shard = scaled_rows(comm, model, X, std::nullopt);
    if (model.cosine) {
      CsrShard<T> unit_rows = unit_rows_of(shard);
      out = distances_to_centres(unit_rows, model.centroids, Distance::Cosine);
    } else {
      out = distances_to_centres(shard, model.centroids, model_distance(model));
    }
  }
  return to_numpy(out);
}

template <class T>
py::array_t<double> transform_sparse(const Dict& state, const py::array_t<T, py::array::c_style>& data,
                                     const py::array_t<std::int32_t, py::array::c_style>& indices,
                                     const py::array_t<std::int64_t, py::array::c_style>& indptr, std::int64_t columns,
                                     const py::object& comm_handle) {
  const Model<T> model = model_from<T>(state, false);
  if (!model.cosine) throw Error("sparse X is transformed by a cosine model only (metric='cosine')");
  RowMatrix<double> out;
  {
    py::gil_scoped_release unlocked;
    const Comm comm = communicator(comm_handle);
    CsrShard<T> unit_rows = csr_shard(comm, data, indices, indptr, columns, std::nullopt);
    check_width(model.centroids.cols(), columns);
    normalize_rows(unit_rows);
    out = distances_to_centres(unit_rows, model.centroids, Distance::Cosine);
  }
  return to_numpy(out);
}

// ------------------------------------------------------------------ files

template <class T>
void save_typed(const Dict& state, const std::string& path, bool force, const py::object& comm_handle) {
  const Model<T> model = model_from<T>(state, true);
  py::gil_scoped_release unlocked;
  const Comm comm = communicator(comm_handle);
  // Refused before anything is written: an existing file (without force), a directory, ...
  run_agreed(comm, [&] { check_output_path(path, force, {}); });
  // Every rank's labels are its own rows: the label rows and first row follow from them.
  Model<T> placed = model;
  if (!placed.labels.empty() || placed.label_rows > 0) {
    const RowBlock block = distribute_rows(comm, static_cast<std::int64_t>(placed.labels.size()), 1);
    placed.label_rows = block.global_rows;
    placed.first_row = block.first_row;
  }
  write_model(comm, path, force, placed);
}

void save(const Dict& state, const std::string& path, bool force, const py::object& comm_handle) {
  if (py::array(state["centroids"]).dtype().is(py::dtype::of<float>())) save_typed<float>(state, path, force, comm_handle);
  else save_typed<double>(state, path, force, comm_handle);
}

template <class T>
Dict load_typed(const Comm& comm, const DatasetRef& ref, bool labels) {
  Model<T> model = read_model<T>(comm, ref);
  if (labels && model.label_rows > 0) {
    const RowRange mine = block_rows(model.label_rows, comm.size(), comm.rank());
    model.labels = read_labels(comm, DatasetRef(ref.file, "/labels"), model.label_rows);
    model.first_row = mine.begin;
  }
  return model_to_dict(model);
}

Dict load(const std::string& path, bool labels, const py::object& comm_handle) {
  const Comm comm = communicator(comm_handle);
  const DatasetRef ref(path, "/centroids");
  const MatrixShape shape = inspect_matrix(comm, ref);
  return shape.type == ElementType::Float32 ? load_typed<float>(comm, ref, labels) : load_typed<double>(comm, ref, labels);
}

}  // namespace

void register_models(py::module_& m) {
  m.def("fit_dense", &fit_dense<double>, py::arg("X").noconvert(), "settings"_a, "init"_a, "sample_weight"_a, "comm"_a,
        "threads"_a, "verbose"_a);
  m.def("fit_dense", &fit_dense<float>, py::arg("X").noconvert(), "settings"_a, "init"_a, "sample_weight"_a, "comm"_a,
        "threads"_a, "verbose"_a);
  m.def("fit_sparse", &fit_sparse<double>, py::arg("data").noconvert(), "indices"_a, "indptr"_a, "columns"_a,
        "settings"_a, "init"_a, "sample_weight"_a, "comm"_a, "threads"_a, "verbose"_a);
  m.def("fit_sparse", &fit_sparse<float>, py::arg("data").noconvert(), "indices"_a, "indptr"_a, "columns"_a,
        "settings"_a, "init"_a, "sample_weight"_a, "comm"_a, "threads"_a, "verbose"_a);
  m.def("predict_dense", &predict_dense<double>, "state"_a, py::arg("X").noconvert(), "sample_weight"_a, "comm"_a,
        "distances"_a);
  m.def("predict_dense", &predict_dense<float>, "state"_a, py::arg("X").noconvert(), "sample_weight"_a, "comm"_a,
        "distances"_a);
  m.def("predict_sparse", &predict_sparse<double>, "state"_a, py::arg("data").noconvert(), "indices"_a, "indptr"_a,
        "columns"_a, "sample_weight"_a, "comm"_a, "distances"_a);
  m.def("predict_sparse", &predict_sparse<float>, "state"_a, py::arg("data").noconvert(), "indices"_a, "indptr"_a,
        "columns"_a, "sample_weight"_a, "comm"_a, "distances"_a);
  m.def("transform_dense", &transform_dense<double>, "state"_a, py::arg("X").noconvert(), "comm"_a);
  m.def("transform_dense", &transform_dense<float>, "state"_a, py::arg("X").noconvert(), "comm"_a);
  m.def("transform_sparse", &transform_sparse<double>, "state"_a, py::arg("data").noconvert(), "indices"_a,
        "indptr"_a, "columns"_a, "comm"_a);
  m.def("transform_sparse", &transform_sparse<float>, "state"_a, py::arg("data").noconvert(), "indices"_a,
        "indptr"_a, "columns"_a, "comm"_a);
  m.def("save_model", &save, "state"_a, "path"_a, "force"_a, "comm"_a);
  m.def("load_model", &load, "path"_a, "labels"_a, "comm"_a);
}

}  // namespace lloyd::python
