#include "lloyd/io/checkpoint.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "lloyd/io/hdf5.hpp"
#include "lloyd/io/small_file.hpp"

namespace lloyd {

namespace {

// Version 2: the data's fingerprint and the format tag. Version 3: the method, the seeding
// cost, the step's and an outer method's state (every mode and bisecting checkpoint).
constexpr std::int64_t kFormatVersion = 3;
// The root attribute `format` that marks a file as a lloyd checkpoint.
constexpr const char* kFormatTag = "lloyd checkpoint";

std::string exact_text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

// ---------------------------------------------------------------- data fingerprint

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::uint64_t rotate_left(std::uint64_t x, int bits) { return (x << bits) | (x >> (64 - bits)); }

// A 64-bit hash of one row: four independent xxHash64-style lanes over its 8-byte words
// (so that the multiplications overlap), seeded by the global row index.
std::uint64_t row_hash(std::uint64_t index, const unsigned char* bytes, std::size_t size) {
  constexpr std::uint64_t kPrime1 = 0x9E3779B185EBCA87ull, kPrime2 = 0xC2B2AE3D27D4EB4Full;
  std::uint64_t lane[4] = {mix(index), mix(index + kPrime1), mix(index + kPrime2), mix(~index)};
  auto round = [&](std::uint64_t& acc, std::uint64_t word) {
    acc = rotate_left(acc + word * kPrime2, 31) * kPrime1;
  };
  const std::size_t words = size / 8;
  std::size_t w = 0;
  for (; w + 4 <= words; w += 4)
    for (std::size_t l = 0; l < 4; ++l) {
      std::uint64_t word;
      std::memcpy(&word, bytes + 8 * (w + l), 8);
      round(lane[l], word);
    }
  for (; w < words; ++w) {
    std::uint64_t word;
    std::memcpy(&word, bytes + 8 * w, 8);
    round(lane[w % 4], word);
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, bytes + 8 * words, size - 8 * words);
  round(lane[0], tail ^ (static_cast<std::uint64_t>(size) << 56));
  return mix(lane[0] ^ rotate_left(lane[1], 7) ^ rotate_left(lane[2], 12) ^ rotate_left(lane[3], 18));
}

// ---------------------------------------------------------------- reading

std::optional<std::string> problem_with_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (std::filesystem::is_directory(status)) return "checkpoint '" + path + "' is a directory";
  if (!std::filesystem::is_regular_file(status)) return "checkpoint '" + path + "' is not a regular file";
  return std::nullopt;
}

// The first difference between the fit a checkpoint was written for and `identity`, as a
// message; std::nullopt when they are the same fit of the same data. Not collective.
std::optional<std::string> identity_difference(const SmallFile& in, const CheckpointIdentity& identity) {
  if (in.text_if_present("format") != kFormatTag)
    return "'" + in.path() + "' is not a lloyd checkpoint (its attribute 'format' is not '" + kFormatTag + "')";
  const std::int64_t version = in.integer("format_version");
  if (version != kFormatVersion)
    return in.name() + " has format version " + std::to_string(version) + "; this lloyd reads version " +
           std::to_string(kFormatVersion) + " (run without --resume to start afresh)";
  const KMeansOptions& o = identity.options;
  const std::pair<std::string, std::pair<std::string, std::string>> options[] = {
      {"--k", {std::to_string(in.integer("k")), std::to_string(o.k)}},
      {"--n-init", {std::to_string(in.integer("n_init")), std::to_string(o.n_init)}},
      {"--max-iter", {std::to_string(in.integer("max_iter")), std::to_string(o.max_iter)}},
      {"--tol", {exact_text(in.real("tol")), exact_text(o.tol)}},
      {"--seed", {std::to_string(in.integer("seed")), std::to_string(static_cast<std::int64_t>(o.seed))}},
      {"--init", {in.text("init"), identity.init_name}},
      {"the method (--mode, --metric and their options)", {in.text("method"), identity.method}},
  };
  for (const auto& [option, values] : options)
    if (values.first != values.second)
      return in.name() + " belongs to another fit: " + option + " was " + values.first + ", now " + values.second;
  const std::string saved_shape = std::to_string(in.integer("n_samples")) + " x " +
                                  std::to_string(in.integer("n_features")) + " " + in.text("dtype");
  const std::string shape = std::to_string(identity.n_samples) + " x " + std::to_string(identity.n_features) +
                            " " + identity.dtype;
  if (saved_shape != shape)
    return in.name() + " was written for other data (" + saved_shape + ", now " + shape + ")";
  if (static_cast<std::uint64_t>(in.integer("data_fingerprint")) != identity.data_fingerprint)
    return in.name() + " was written for other data (the same shape, other values)";
  return std::nullopt;
}

// The state of a checkpoint of the fit `identity`, every field checked against what the
// driver can have saved. Not collective.
template <class T>
FitState<T> read_state(const SmallFile& in, const CheckpointIdentity& identity, const FitLimits& limits) {
  const auto k = static_cast<std::uint64_t>(limits.k), d = static_cast<std::uint64_t>(limits.d);
  const auto restarts = static_cast<std::int64_t>(limits.restarts);
  const std::int64_t max_iter = limits.max_iterations;
  auto bounded = [&](const std::string& name, std::int64_t low, std::int64_t high, const std::string& range) {
    const std::int64_t value = in.integer(name);
    if (value < low || value > high)
      throw in.problem("attribute " + name + " = " + std::to_string(value) + " lies outside " + range);
    return value;
  };
  auto flag = [&](const std::string& name) { return bounded(name, 0, 1, "{0, 1}") != 0; };
  // Centres are kept in the data's type: a conversion would break the bit-identical resume.
  auto centres = [&](const std::string& name, std::uint64_t rows) {
    if (in.float_bytes(name) != sizeof(T))
      throw in.problem(name + " holds " + std::to_string(8 * in.float_bytes(name)) + "-bit floats; expected " +
                       identity.dtype);
    return in.matrix<T>(name, rows, d);
  };
  auto non_negative = [&](const std::string& name, std::uint64_t length) {
    std::vector<double> values = in.vector<double>(name, length);
    for (std::size_t i = 0; i < values.size(); ++i)
      if (values[i] < 0) throw in.problem(name + " element " + std::to_string(i) + " is negative");
    return values;
  };

  FitState<T> state;
  state.restart = static_cast<int>(
      bounded("restart", 0, restarts - 1, "[0, restarts = " + std::to_string(restarts) + ")"));
  state.iteration = bounded("iteration", 0, max_iter - 1, "[0, max_iter = " + std::to_string(max_iter) + ")");
  // Mid-way through a restart: the centres after `iteration` iterations, the history so far
  // (after the seeding's entry where the method has one) and the step's own state. Between
  // restarts (iteration 0): nothing.
  const std::uint64_t iterations = static_cast<std::uint64_t>(state.iteration);
  const std::uint64_t rows = iterations > 0 ? k : 0;
  const std::uint64_t lead = iterations > 0 ? static_cast<std::uint64_t>(limits.history_lead) : 0;
  state.centroids = centres("/centroids", rows);
  state.previous_centroids = centres("/previous_centroids", rows);
  state.inertia_history = non_negative("/inertia_history", lead + iterations);
  state.shift_history = non_negative("/shift_history", iterations);
  state.init_inertia = in.real("init_inertia");
  state.step_integers = in.vector<std::int64_t>("/step_integers", iterations > 0 ? limits.step_integers : 0);
  // One inertia per finished restart; the best of them is kept whole.
  state.restart_inertia = non_negative("/restart_inertia", static_cast<std::uint64_t>(state.restart));
  state.has_best = flag("has_best");
  if (state.has_best != (state.restart > 0))
    throw in.problem("attribute has_best = " + std::to_string(state.has_best) + " does not fit restart = " +
                     std::to_string(state.restart) + " (a best restart exists once one has finished)");
  const std::uint64_t best_rows = state.has_best ? k : 0;
  state.best_centroids = centres("/best_centroids", best_rows);
  state.best_converged = flag("best_converged");
  if (state.has_best) {
    state.best_restart = static_cast<int>(bounded("best_restart", 0, state.restart - 1,
                                                  "[0, restart = " + std::to_string(state.restart) + ")"));
    state.best_n_iter = bounded("best_n_iter", 0, max_iter, "[0, max_iter = " + std::to_string(max_iter) + "]");
    state.best_inertia = in.real("best_inertia");
    state.best_init_inertia = in.real("best_init_inertia");
    const double recorded = state.restart_inertia[static_cast<std::size_t>(state.best_restart)];
    if (std::memcmp(&recorded, &state.best_inertia, sizeof(double)) != 0)
      throw in.problem("attribute best_inertia = " + exact_text(state.best_inertia) +
                       " differs from /restart_inertia of the best restart (" + exact_text(recorded) + ")");
  }
  const std::uint64_t best_iterations = static_cast<std::uint64_t>(state.has_best ? state.best_n_iter : 0);
  const std::uint64_t best_lead = state.has_best ? static_cast<std::uint64_t>(limits.history_lead) : 0;
  state.best_inertia_history = non_negative("/best_inertia_history", best_lead + best_iterations);
  state.best_shift_history = non_negative("/best_shift_history", best_iterations);
  // An outer method's state (bisecting: the tree) is checked by that method.
  state.outer_integers = in.vector<std::int64_t>("/outer_integers", std::nullopt);
  state.outer_reals = in.vector<double>("/outer_reals", std::nullopt);
  const std::uint64_t outer_rows = state.outer_reals.size();
  state.outer_centres = centres("/outer_centres", outer_rows);
  return state;
}

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
  file.write_replicated("/step_integers", state.step_integers.data(), state.step_integers.size(), 0);
  file.write_replicated("/outer_integers", state.outer_integers.data(), state.outer_integers.size(), 0);
  write_vector(file, "/outer_reals", state.outer_reals);
  write_matrix(file, "/outer_centres", state.outer_centres, d);
  const hid_t root = file.root();
  write_attribute(root, "format", std::string(kFormatTag));
  write_attribute(root, "format_version", kFormatVersion);
  write_attribute(root, "restart", std::int64_t{state.restart});
  write_attribute(root, "iteration", std::int64_t{state.iteration});
  write_attribute(root, "has_best", std::int64_t{state.has_best});
  write_attribute(root, "best_inertia", state.best_inertia);
  write_attribute(root, "init_inertia", state.init_inertia);
  write_attribute(root, "best_init_inertia", state.best_init_inertia);
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
  write_attribute(root, "method", identity.method);
  write_attribute(root, "input", identity.input);
  write_attribute(root, "n_samples", static_cast<std::int64_t>(identity.n_samples));
  write_attribute(root, "n_features", static_cast<std::int64_t>(identity.n_features));
  write_attribute(root, "dtype", identity.dtype);
  write_attribute(root, "data_fingerprint", static_cast<std::int64_t>(identity.data_fingerprint));
  file.commit();
}

// Sample weights are part of the data: a weighted fit resumes only with the same weights (and
// never from an unweighted checkpoint). The index is tagged so that a weight never hashes like
// a row of one value. 0 without weights.
template <class Shard>
std::uint64_t weights_hash(const Shard& shard) {
  constexpr std::uint64_t kWeightTag = 0x5745494748545321;  // "WEIGHTS!"
  std::uint64_t sum = 0;
  if (shard.weighted())
    for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
      sum += row_hash(shard.global_index(i) ^ kWeightTag,
                      reinterpret_cast<const unsigned char*>(&shard.weights[static_cast<std::size_t>(i)]), sizeof(double));
  return sum;
}

template <class T>
std::uint64_t data_fingerprint(const Comm& comm, const DenseShard<T>& shard) {
  std::uint64_t sum = 0;  // wraps: a sum mod 2^64, independent of the order of the rows
  const auto row_bytes = static_cast<std::size_t>(shard.features()) * sizeof(T);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    sum += row_hash(shard.global_index(i), reinterpret_cast<const unsigned char*>(shard.row(i)), row_bytes);
  return comm.allreduce(sum + weights_hash(shard), MPI_SUM);
}

template <class T>
std::uint64_t data_fingerprint(const Comm& comm, const CsrShard<T>& shard) {
  std::uint64_t sum = 0;
  std::vector<unsigned char> bytes;
  constexpr std::size_t kEntry = sizeof(std::int32_t) + sizeof(T);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i) {
    // A row's (column, value) pairs as bytes: the same row hashes alike on any rank.
    bytes.resize(static_cast<std::size_t>(shard.row_end(i) - shard.row_begin(i)) * kEntry);
    std::size_t at = 0;
    for (std::int64_t e = shard.row_begin(i); e < shard.row_end(i); ++e, at += kEntry) {
      std::memcpy(bytes.data() + at, &shard.indices[static_cast<std::size_t>(e)], sizeof(std::int32_t));
      std::memcpy(bytes.data() + at + sizeof(std::int32_t), &shard.values[static_cast<std::size_t>(e)], sizeof(T));
    }
    sum += row_hash(shard.global_index(i), bytes.data(), bytes.size());
  }
  return comm.allreduce(sum + weights_hash(shard), MPI_SUM);
}

template <class T>
std::optional<FitState<T>> read_checkpoint(const Comm& comm, const std::string& path,
                                           const CheckpointIdentity& identity,
                                           const FitLimits& limits) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (comm.allreduce(exists ? 1 : 0, MPI_MIN) == 0) return std::nullopt;
  FitState<T> state;
  // Every rank reads the small file on its own and reaches the same verdict.
  run_agreed(comm, [&] {
    if (const auto problem = problem_with_file(path)) throw Error(*problem);
    const SmallFile in(path, "checkpoint");
    if (const auto difference = identity_difference(in, identity)) throw Error(*difference);
    state = read_state<T>(in, identity, limits);
  });
  return state;
}

bool is_checkpoint_of(const std::string& path, const CheckpointIdentity& identity) {
  std::error_code ec;
  // lloyd writes its checkpoints as regular files (a rename): never a link, a FIFO or a device.
  if (!std::filesystem::is_regular_file(std::filesystem::symlink_status(path, ec))) return false;
  try {
    const SmallFile in(path, "checkpoint");
    return !identity_difference(in, identity).has_value();
  } catch (const std::exception&) {
    return false;
  }
}

template void write_checkpoint(const Comm&, const std::string&, const FitState<float>&, const CheckpointIdentity&);
template void write_checkpoint(const Comm&, const std::string&, const FitState<double>&, const CheckpointIdentity&);
template std::optional<FitState<float>> read_checkpoint(const Comm&, const std::string&, const CheckpointIdentity&,
                                                        const FitLimits&);
template std::optional<FitState<double>> read_checkpoint(const Comm&, const std::string&, const CheckpointIdentity&,
                                                         const FitLimits&);
template std::uint64_t data_fingerprint(const Comm&, const DenseShard<float>&);
template std::uint64_t data_fingerprint(const Comm&, const DenseShard<double>&);
template std::uint64_t data_fingerprint(const Comm&, const CsrShard<float>&);
template std::uint64_t data_fingerprint(const Comm&, const CsrShard<double>&);

}  // namespace lloyd
