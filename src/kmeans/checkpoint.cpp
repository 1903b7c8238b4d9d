#include "lloyd/kmeans/checkpoint.hpp"

#include <cstdio>
#include <filesystem>

#include "lloyd/io/hdf5.hpp"

namespace lloyd {

namespace {

constexpr std::int64_t kFormatVersion = 1;

std::string exact_text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

// Every rank reads the small checkpoint file on its own (no coordination needed).
class CheckpointReader {
 public:
  explicit CheckpointReader(const std::string& path)
      : path_(path), file_(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose) {
    if (file_.get() < 0) throw Error("cannot open checkpoint '" + path + "'");
  }
  template <class T>
  RowMatrix<T> matrix(const std::string& name) const {
    const auto [dims, values] = read<T>(name);
    return Eigen::Map<const RowMatrix<T>>(values.data(), static_cast<Eigen::Index>(dims[0]),
                                          static_cast<Eigen::Index>(dims[1]));
  }
  std::vector<double> vector(const std::string& name) const { return read<double>(name).second; }
  double real(const std::string& name) const { return read_attribute_double(file_.get(), name); }
  std::int64_t integer(const std::string& name) const {
    return read_attribute_int(file_.get(), name);
  }
  std::string text(const std::string& name) const {
    Hid attribute(H5Aopen(file_.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
    if (attribute.get() < 0) throw Error("checkpoint '" + path_ + "' lacks attribute " + name);
    Hid type(H5Aget_type(attribute.get()), H5Tclose);
    std::string value(H5Tget_size(type.get()), '\0');
    H5Aread(attribute.get(), type.get(), value.data());
    return value.substr(0, value.find('\0'));
  }

 private:
  template <class T>
  std::pair<std::array<hsize_t, 2>, std::vector<T>> read(const std::string& name) const {
    Hid dataset(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (dataset.get() < 0) throw Error("checkpoint '" + path_ + "' lacks " + name);
    Hid space(H5Dget_space(dataset.get()), H5Sclose);
    std::array<hsize_t, 2> dims = {0, 1};
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    std::vector<T> values(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
    const hid_t type = sizeof(T) == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
    if (!values.empty() &&
        H5Dread(dataset.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
      throw Error("cannot read " + name + " from checkpoint '" + path_ + "'");
    return {dims, values};
  }
  std::string path_;
  Hid file_;
};

template <class T>
void write_matrix(OutputFile& file, const std::string& name, const RowMatrix<T>& matrix,
                  Eigen::Index features) {
  file.write_replicated(name, matrix.data(), static_cast<std::uint64_t>(matrix.rows()),
                        static_cast<std::uint64_t>(features));
}

void write_vector(OutputFile& file, const std::string& name, const std::vector<double>& values) {
  file.write_replicated(name, values.data(), values.size(), 0);
}

}  // namespace

template <class T>
void write_checkpoint(const Comm& comm, const std::string& path, const FitState<T>& state,
                      const CheckpointIdentity& identity) {
  OutputFile file(comm, path, /*replace_existing=*/true);
  const auto d = static_cast<Eigen::Index>(identity.n_features);
  write_matrix(file, "/centroids", state.centroids, d);
  write_matrix(file, "/previous_centroids", state.previous_centroids, d);
  write_vector(file, "/inertia_history", state.inertia_history);
  write_vector(file, "/shift_history", state.shift_history);
  write_vector(file, "/restart_inertia", state.restart_inertia);
  write_matrix(file, "/best_centroids", state.best_centroids, d);
  write_vector(file, "/best_inertia_history", state.best_inertia_history);
  write_vector(file, "/best_shift_history", state.best_shift_history);
  const hid_t root = file.root();
  write_attribute(root, "format_version", kFormatVersion);
  write_attribute(root, "restart", std::int64_t{state.restart});
  write_attribute(root, "iteration", std::int64_t{state.iteration});
  write_attribute(root, "has_best", std::int64_t{state.has_best});
  write_attribute(root, "best_inertia", state.best_inertia);
  write_attribute(root, "best_n_iter", std::int64_t{state.best_n_iter});
  write_attribute(root, "best_converged", std::int64_t{state.best_converged});
  write_attribute(root, "best_restart", std::int64_t{state.best_restart});
  // The identity of the fit, checked on resume.
  write_attribute(root, "k", std::int64_t{identity.options.k});
  write_attribute(root, "n_init", std::int64_t{identity.options.n_init});
  write_attribute(root, "max_iter", std::int64_t{identity.options.max_iter});
  write_attribute(root, "tol", identity.options.tol);
  write_attribute(root, "seed", static_cast<std::int64_t>(identity.options.seed));
  write_attribute(root, "init", identity.init_name);
  write_attribute(root, "input", identity.input);
  write_attribute(root, "n_samples", static_cast<std::int64_t>(identity.n_samples));
  write_attribute(root, "n_features", static_cast<std::int64_t>(identity.n_features));
  write_attribute(root, "dtype", identity.dtype);
  file.commit();
}

template <class T>
std::optional<FitState<T>> read_checkpoint(const Comm& comm, const std::string& path,
                                           const CheckpointIdentity& identity) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (comm.allreduce(exists ? 1 : 0, MPI_MIN) == 0) return std::nullopt;
  FitState<T> state;
  run_agreed(comm, [&] {
    const CheckpointReader in(path);
    if (in.integer("format_version") != kFormatVersion)
      throw Error("checkpoint '" + path + "' has an unknown format version");
    auto expect = [&](const std::string& what, const std::string& saved, const std::string& now) {
      if (saved != now)
        throw Error("checkpoint '" + path + "' belongs to another fit: " + what + " was " +
                    saved + ", now " + now);
    };
    const KMeansOptions& o = identity.options;
    expect("--k", std::to_string(in.integer("k")), std::to_string(o.k));
    expect("--n-init", std::to_string(in.integer("n_init")), std::to_string(o.n_init));
    expect("--max-iter", std::to_string(in.integer("max_iter")), std::to_string(o.max_iter));
    expect("--tol", exact_text(in.real("tol")), exact_text(o.tol));
    expect("--seed", std::to_string(in.integer("seed")), std::to_string(static_cast<std::int64_t>(o.seed)));
    expect("--init", in.text("init"), identity.init_name);
    expect("--input", in.text("input"), identity.input);
    expect("n_samples", std::to_string(in.integer("n_samples")), std::to_string(identity.n_samples));
    expect("n_features", std::to_string(in.integer("n_features")), std::to_string(identity.n_features));
    expect("dtype", in.text("dtype"), identity.dtype);

    state.restart = static_cast<int>(in.integer("restart"));
    state.iteration = static_cast<int>(in.integer("iteration"));
    state.centroids = in.matrix<T>("/centroids");
    state.previous_centroids = in.matrix<T>("/previous_centroids");
    state.inertia_history = in.vector("/inertia_history");
    state.shift_history = in.vector("/shift_history");
    state.restart_inertia = in.vector("/restart_inertia");
    state.has_best = in.integer("has_best") != 0;
    state.best_centroids = in.matrix<T>("/best_centroids");
    state.best_inertia = in.real("best_inertia");
    state.best_n_iter = static_cast<int>(in.integer("best_n_iter"));
    state.best_converged = in.integer("best_converged") != 0;
    state.best_restart = static_cast<int>(in.integer("best_restart"));
    state.best_inertia_history = in.vector("/best_inertia_history");
    state.best_shift_history = in.vector("/best_shift_history");
  });
  return state;
}

template void write_checkpoint(const Comm&, const std::string&, const FitState<float>&, const CheckpointIdentity&);
template void write_checkpoint(const Comm&, const std::string&, const FitState<double>&, const CheckpointIdentity&);
template std::optional<FitState<float>> read_checkpoint(const Comm&, const std::string&, const CheckpointIdentity&);
template std::optional<FitState<double>> read_checkpoint(const Comm&, const std::string&, const CheckpointIdentity&);

}  // namespace lloyd
