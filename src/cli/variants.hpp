#pragma once
// `lloyd fit --mode minibatch|kmedians|kmedoids`: the variants' options, fit and model.
#include <optional>
#include <string>

#include "common.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/io/output_path.hpp"
#include "lloyd/kmeans/engine.hpp"
#include "lloyd/kmeans/options.hpp"

namespace lloyd::cli {

/// --checkpoint FILE, --checkpoint-every N and --resume as parsed (the path is checked at
/// the start of `fit`, before any work).
struct CheckpointRequest {
  std::string path;
  int every = 0;
  bool resume = false;
};

/// Exit status of a fit stopped by SIGTERM/SIGUSR1 after saving its checkpoint
/// (EX_TEMPFAIL: "try again later" — a job script requeues on it).
constexpr int kExitInterrupted = 75;

/// The checkpoint of one fit, for every mode: the library's FitControl (stop on
/// SIGTERM/SIGUSR1, save every N iterations, resume from the file) and the file's removal
/// once the model is committed — only the file this fit wrote or resumed from, unchanged.
template <class T>
class FitCheckpoint {
 public:
  /// Collective over comm. `identity.data_fingerprint` is filled by the caller (only needed
  /// when a checkpoint is asked for).
  FitCheckpoint(const Comm& comm, const CheckpointRequest& request, CheckpointIdentity identity);
  FitCheckpoint(const FitCheckpoint&) = delete;
  FitCheckpoint& operator=(const FitCheckpoint&) = delete;
  bool active() const { return !request_.path.empty(); }
  const FitControl<T>& control() const { return control_; }
  /// Rank 0 says where the state went; returns the exit status of an interrupted fit.
  int interrupted() const;
  /// After the model is committed: the checkpoint is no longer needed.
  void finished() const;

 private:
  const Comm& comm_;
  CheckpointRequest request_;
  CheckpointIdentity identity_;
  FitControl<T> control_;
  std::optional<FileIdentity> own_;  ///< rank 0's view of the file this fit wrote or read
};

/// Collective over comm: the centres of --init FILE.h5:/dataset, checked against k (the
/// rows of the file when --k is not given, which sets `options.k`) and d; explicit centres
/// mean one restart. Nothing when --init names a method.
template <class T>
std::optional<RowMatrix<T>> load_initial_centres(const Comm& comm, const std::optional<DatasetRef>& file,
                                                 bool k_given, std::uint64_t features, KMeansOptions& options);

/// What `fit` has parsed and validated already (the options shared with --mode lloyd).
struct VariantRequest {
  std::string mode;
  DatasetRef input;
  std::string output;
  KMeansOptions options;
  std::string init_text;
  std::optional<DatasetRef> init_file;
  bool json = false, verbose = false, force = false;
  int threads = 1;
  CheckpointRequest checkpoint;
  std::string init_identity;  ///< the init as a checkpoint records it
};

bool is_variant_mode(const std::string& mode);
/// The variants' own options (they are ignored by the other modes).
void add_variant_options(po::options_description& description);
/// Collective over comm: validates the variant's options, fits, writes the model and prints
/// the result on rank 0.
int fit_variant(const Comm& comm, const po::variables_map& vm, VariantRequest request, double start);

}  // namespace lloyd::cli
