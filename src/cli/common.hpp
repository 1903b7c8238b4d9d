#pragma once
// Shared plumbing of the subcommands: option parsing with one-line errors, help, JSON.
#include <boost/program_options.hpp>
#include <functional>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/error.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/memory_model.hpp"

namespace lloyd::cli {

namespace po = boost::program_options;

/// A bad command line. Every rank parses the same arguments, so every rank throws it.
class UsageError : public AgreedError {
 public:
  using AgreedError::AgreedError;
};

using Args = std::vector<std::string>;

int run_fit(const Comm& comm, const Args& args);
int run_predict(const Comm& comm, const Args& args);
int run_generate(const Comm& comm, const Args& args);
int run_evaluate(const Comm& comm, const Args& args);
int run_choose_k(const Comm& comm, const Args& args);
int run_tfidf(const Comm& comm, const Args& args);
int run_top_terms(const Comm& comm, const Args& args);
int run_convert(const Comm& comm, const Args& args);

/// What --input of a command that reads a data matrix accepts (for its help text).
inline constexpr const char* kInputHelp =
    "data set: FILE.h5:/dataset, FILE.h5 (its /X), FILE.npy, or CSV/TSV text FILE.csv|.tsv|.txt "
    "(n rows x d features; float32, float64 or integers)";
/// --csv-header and --columns: how CSV/TSV --input is read.
void add_input_options(po::options_description& options);
/// The --input of `command`, its format and dataset resolved (resolve_input), with the CSV
/// options; a bad --csv-header value is a UsageError, a file lloyd cannot read an AgreedError.
/// Collective over comm.
DatasetRef input_option(const Comm& comm, const po::variables_map& vm, const std::string& command);

/// Parses `args` against `options`; unknown options, missing values, bad numbers and negative
/// values of unsigned options become a UsageError naming the command. Returns std::nullopt after printing help (on rank 0)
/// when --help is among the arguments.
std::optional<po::variables_map> parse(const Comm& comm, const std::string& command,
                                       const std::string& synopsis,
                                       const po::options_description& options, const Args& args);

/// The value of a required option, or a UsageError naming it.
template <class T>
T required(const po::variables_map& vm, const std::string& command, const std::string& name) {
  if (!vm.count(name)) throw UsageError("lloyd " + command + ": --" + name + " is required");
  return vm[name].as<T>();
}

/// The value of a double option that must be a finite number >= 0 (--tol): NaN, Inf and
/// negative values are a UsageError naming the option.
double non_negative_option(const po::variables_map& vm, const std::string& command, const std::string& name);

/// One JSON object, built key by key and printed on one line.
class JsonObject {
 public:
  JsonObject& add(const std::string& key, const std::string& value);
  JsonObject& add(const std::string& key, const char* value) { return add(key, std::string(value)); }
  JsonObject& add(const std::string& key, double value);
  JsonObject& add(const std::string& key, std::int64_t value);
  JsonObject& add(const std::string& key, int value) { return add(key, std::int64_t{value}); }
  JsonObject& add(const std::string& key, std::uint64_t value) {
    return add(key, static_cast<std::int64_t>(value));
  }
  JsonObject& add(const std::string& key, bool value);
  JsonObject& add(const std::string& key, const JsonObject& nested);
  /// An array of integers.
  JsonObject& add(const std::string& key, const std::vector<std::int64_t>& values);
  /// A value that is already JSON text (e.g. an array of objects).
  JsonObject& add_json(const std::string& key, const std::string& json);
  std::string str() const {
    std::string text(1, '{');
    text += body_.str();
    text += '}';
    return text;
  }

 private:
  std::ostringstream& next(const std::string& key);
  std::ostringstream body_;
  bool empty_ = true;
};

/// Options the user gave (not defaults) that do not apply to what runs are a UsageError
/// naming the first one: "lloyd COMMAND: --NAME applies only to WHERE". Ignoring them silently
/// would let the user believe they took effect.
void refuse_unless(const po::variables_map& vm, const std::string& command,
                   std::initializer_list<const char*> names, bool applies, const std::string& where);

/// --metric euclidean | cosine: whether it is cosine; another name is a UsageError naming
/// `command` (`hint` appended to it).
bool parse_cosine_metric(const po::variables_map& vm, const std::string& command, const std::string& hint = "");

/// An optional FILE.h5:/dataset option (e.g. --sample-weight): std::nullopt when not given; a
/// malformed reference is a UsageError naming `command` and the option.
std::optional<DatasetRef> optional_dataset_option(const po::variables_map& vm, const std::string& command,
                                                  const std::string& name);

/// --n-init N | auto, default 1 (auto: scikit-learn 1.4's rule).
void add_n_init_option(po::options_description& options, const std::string& help);
/// The restarts asked for: N >= 1, or for "auto" 1 with k-means++, k-means|| or given centres
/// and 10 with the random inits (forgy, random-partition), as scikit-learn's n_init="auto".
int parse_n_init_option(const po::variables_map& vm, const std::string& command, InitMethod init);

/// The --threads option (shared by the commands that run the assignment kernel).
void add_threads_option(po::options_description& options);
/// --algorithm lloyd|hamerly|yinyang|auto (default auto) for the commands that fit.
void add_algorithm_option(po::options_description& options);
/// The --algorithm given; a UsageError naming `command` when unknown.
Algorithm parse_algorithm_option(const po::variables_map& vm, const std::string& command);
/// Applies --threads; 0 means what the rank was given: OMP_NUM_THREADS when set, else the
/// CPUs this process may run on divided by the ranks sharing its node. Collective over comm.
int apply_threads(const Comm& comm, const po::variables_map& vm);

/// Peak resident memory of a rank (getrusage), in MB, the maximum over ranks. Collective
/// over comm.
double peak_memory_mb(const Comm& comm);

/// A limit on the memory per rank and where it comes from ("--max-memory-per-rank", or the
/// cgroup's limit shared by the ranks on the node), for the refusal's line.
struct MemoryLimit {
  double bytes = 0;
  std::string source;
};

/// --max-memory-per-rank SIZE | none and --estimate-only, for the commands that estimate their
/// memory before reading the data (kmeans/memory_model.hpp).
void add_memory_options(po::options_description& options);
/// The limit per rank in bytes: SIZE as given ("2G", "512M", "1.5GiB"; a bad one is a
/// UsageError naming the option), none for "none", and by default the memory the cgroup allows
/// divided by the ranks on the node, where a cgroup says one (the smallest over the ranks, so
/// that every rank agrees). Collective over comm.
std::optional<MemoryLimit> memory_limit_option(const Comm& comm, const po::variables_map& vm, const std::string& command);
/// The estimate as JSON, in MiB: {"total": …, "ranks": p, "parts": {name: …}, "limit": … or null,
/// "ranks_needed": … or null}.
JsonObject memory_json(const MemoryEstimate& estimate, const std::optional<MemoryLimit>& limit, std::optional<int> ranks_needed);
/// Rank 0's line of the estimate (stderr): the total and every part.
void print_memory_estimate(const Comm& comm, const std::string& command, const MemoryEstimate& estimate,
                           const std::optional<MemoryLimit>& limit);
/// The fewest ranks N from which every count's estimate (`estimate_for(p)`) fits `limit`
/// (fewest_ranks_within); where none does but a count below the collective read's aggregator
/// fits (small data: from 3 ranks one rank stages the file), that count, with `*exactly` set:
/// only it fits, not every larger one. std::nullopt without a limit or when no count fits.
std::optional<int> ranks_needed(const std::optional<MemoryLimit>& limit, const std::function<MemoryEstimate(int)>& estimate_for,
                                bool* exactly = nullptr);
/// Refuses (an AgreedError, one line, on every rank alike) when the estimate exceeds the limit,
/// naming both and the ranks the data would need.
void refuse_beyond_memory(const std::string& command, const MemoryEstimate& estimate,
                          const std::optional<MemoryLimit>& limit,
                          std::optional<int> needed, bool exactly = false);

/// A command's memory per rank, known before it reads a row.
struct MemoryPlan {
  MemoryEstimate estimate;
  std::optional<MemoryLimit> limit;  ///< memory_limit_option
  std::optional<int> ranks_needed;
  bool ranks_needed_exactly = false;  ///< only that count fits, not every larger one
  JsonObject json() const { return memory_json(estimate, limit, ranks_needed); }
};
/// The one mechanism of every command that estimates its memory: `estimate_for(p)` at this
/// rank count into plan.estimate and the fewest ranks within plan.limit; the line of the
/// estimate on rank 0 with `verbose` (or --estimate-only without --json); with `estimate_only`
/// the JSON (command, estimate_only, what `describe` adds, fits, memory_estimate_mb) with
/// `json`, and false: the command is not to run. Otherwise refuses (refuse_beyond_memory) when
/// the estimate exceeds the limit, and returns true. Collective over comm.
bool plan_memory(const Comm& comm, const std::string& command, const std::function<MemoryEstimate(int)>& estimate_for,
                 bool verbose, bool estimate_only, bool json, const std::function<void(JsonObject&)>& describe,
                 MemoryPlan& plan);

/// The phases as a JSON object (seconds).
JsonObject phase_json(const PhaseTimes& p);

/// Seconds since `start` (MPI_Wtime), the maximum over ranks. Collective over comm.
double elapsed_max(const Comm& comm, double start);

}  // namespace lloyd::cli
