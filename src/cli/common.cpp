#include "common.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>

#include "lloyd/io/model.hpp"
#include "lloyd/kmeans/assign.hpp"

#include <cmath>
#include <iomanip>
#include <iostream>

namespace lloyd::cli {

namespace {

// Boost converts "-5" to an unsigned option as 2^64 - 5 without a word: every unsigned option
// (--seed, --samples, --sample-size, …) refuses a minus sign here, once for all commands.
void refuse_negative_unsigned(const std::string& command, const po::options_description& options,
                              const po::parsed_options& parsed) {
  for (const po::option& given : parsed.options) {
    const po::option_description* description = options.find_nothrow(given.string_key, false);
    if (!description || !dynamic_cast<const po::typed_value<std::uint64_t>*>(description->semantic().get()))
      continue;
    for (const std::string& value : given.value) {
      const auto first = value.find_first_not_of(" \t");
      if (first != std::string::npos && value[first] == '-')
        throw UsageError("lloyd " + command + ": --" + given.string_key +
                         " must be a non-negative integer (got '" + value + "')");
    }
  }
}

}  // namespace

std::optional<po::variables_map> parse(const Comm& comm, const std::string& command,
                                       const std::string& synopsis,
                                       const po::options_description& options, const Args& args) {
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h") {
      if (comm.rank() == 0)
        std::cout << "usage: lloyd " << command << " " << synopsis << "\n\n" << options << std::flush;
      return std::nullopt;
    }
  }
  po::variables_map vm;
  try {
    const po::parsed_options parsed = po::command_line_parser(args).options(options).run();
    refuse_negative_unsigned(command, options, parsed);
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError("lloyd " + command + ": " + e.what() + " (see 'lloyd " + command + " --help')");
  }
  return vm;
}

void refuse_unless(const po::variables_map& vm, const std::string& command,
                   std::initializer_list<const char*> names, bool applies, const std::string& where) {
  if (applies) return;
  for (const char* name : names)
    if (vm.count(name) && !vm[name].defaulted())
      throw UsageError("lloyd " + command + ": --" + name + " applies only with " + where);
}

bool parse_cosine_metric(const po::variables_map& vm, const std::string& command, const std::string& hint) {
  const std::string metric = vm["metric"].as<std::string>();
  if (metric != "euclidean" && metric != "cosine")
    throw UsageError("lloyd " + command + ": unknown --metric '" + metric + "': expected euclidean or cosine" + hint);
  return metric == "cosine";
}

std::optional<DatasetRef> optional_dataset_option(const po::variables_map& vm, const std::string& command,
                                                  const std::string& name) {
  if (!vm.count(name)) return std::nullopt;
  try {
    return parse_dataset_ref(vm[name].as<std::string>());
  } catch (const Error& e) {
    throw UsageError("lloyd " + command + ": --" + name + ": " + e.what());
  }
}

void add_n_init_option(po::options_description& options, const std::string& help) {
  options.add_options()("n-init", po::value<std::string>()->default_value("1"),
                        (help + "; auto: 1 with k-means++, k-means|| or given centres, 10 with forgy "
                                "or random-partition (scikit-learn's n_init='auto')").c_str());
}

int parse_n_init_option(const po::variables_map& vm, const std::string& command, InitMethod init) {
  const std::string text = vm["n-init"].as<std::string>();
  if (text == "auto")
    return init == InitMethod::Forgy || init == InitMethod::RandomPartition ? 10 : 1;
  int restarts = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), restarts);
  if (error != std::errc() || end != text.data() + text.size() || restarts < 1)
    throw UsageError("lloyd " + command + ": --n-init must be an integer >= 1 or auto (got '" + text + "')");
  return restarts;
}

double non_negative_option(const po::variables_map& vm, const std::string& command, const std::string& name) {
  const double value = vm[name].as<double>();
  if (!std::isfinite(value) || value < 0) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    throw UsageError("lloyd " + command + ": --" + name + " must be a finite number >= 0 (got " + text + ")");
  }
  return value;
}

namespace {
std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
      continue;
    }
    out += c;
  }
  return out;
}
}  // namespace

std::ostringstream& JsonObject::next(const std::string& key) {
  if (!empty_) body_ << ",";
  empty_ = false;
  body_ << "\"" << escaped(key) << "\":";
  return body_;
}

JsonObject& JsonObject::add(const std::string& key, const std::string& value) {
  next(key) << "\"" << escaped(value) << "\"";
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, double value) {
  if (!std::isfinite(value)) {
    next(key) << "null";
  } else {
    next(key) << std::setprecision(17) << value;
  }
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, std::int64_t value) {
  next(key) << value;
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, bool value) {
  next(key) << (value ? "true" : "false");
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, const JsonObject& nested) {
  next(key) << nested.str();
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, const std::vector<std::int64_t>& values) {
  std::ostringstream& out = next(key);
  out << "[";
  for (std::size_t i = 0; i < values.size(); ++i) out << (i ? "," : "") << values[i];
  out << "]";
  return *this;
}

JsonObject& JsonObject::add_json(const std::string& key, const std::string& json) {
  next(key) << json;
  return *this;
}

void add_algorithm_option(po::options_description& options) {
  options.add_options()("algorithm", po::value<std::string>()->default_value("auto"),
                        "lloyd | hamerly | yinyang | elkan (= hamerly) | auto: how rows are assigned (same result, different speed)");
}

Algorithm parse_algorithm_option(const po::variables_map& vm, const std::string& command) {
  try {
    return parse_algorithm(vm["algorithm"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw UsageError("lloyd " + command + ": --algorithm: " + e.what());
  }
}

void add_threads_option(po::options_description& options) {
  options.add_options()("threads", po::value<int>()->default_value(0),
                        "threads per rank (0: OMP_NUM_THREADS, else the rank's CPUs / ranks on the "
                        "node; at most 4 x the node's CPUs)");
}

int apply_threads(const Comm& comm, const po::variables_map& vm) {
  const int threads = vm["threads"].as<int>();
  if (threads < 0) throw UsageError("lloyd: --threads must be >= 0");
  try {
    return apply_thread_count(comm, threads, "--threads");
  } catch (const AgreedError& e) {
    throw UsageError(e.what());
  }
}

void add_input_options(po::options_description& options) {
  options.add_options()
      ("csv-header", po::value<std::string>()->default_value("auto"),
       "CSV input: auto (a header when the first line has a field that is not a number) | yes | no")
      ("columns", po::value<std::string>(),
       "CSV input: the columns to read, header names or 0-based indices, comma separated (default: all)");
}

DatasetRef input_option(const Comm& comm, const po::variables_map& vm, const std::string& command) {
  CsvOptions csv;
  const std::string header = vm["csv-header"].as<std::string>();
  if (header == "yes") csv.header = CsvOptions::Header::Yes;
  else if (header == "no") csv.header = CsvOptions::Header::No;
  else if (header != "auto")
    throw UsageError("lloyd " + command + ": --csv-header must be auto, yes or no (got '" + header + "')");
  if (vm.count("columns")) {
    csv.columns = vm["columns"].as<std::string>();
    if (csv.columns.find_first_not_of(" ,") == std::string::npos)
      throw UsageError("lloyd " + command + ": --columns '" + csv.columns + "' names no column");
  }
  return resolve_input(comm, parse_input_ref(required<std::string>(vm, command, "input"), csv));
}

double peak_memory_mb(const Comm& comm) { return gather_timings(comm, PhaseTimes{}).peak_rss_mb; }

double elapsed_max(const Comm& comm, double start) {
  return comm.allreduce(MPI_Wtime() - start, MPI_MAX);
}

}  // namespace lloyd::cli

namespace lloyd::cli {

JsonObject phase_json(const PhaseTimes& p) {
  JsonObject json;
  for_each_phase(p, [&](const char* name, double seconds) { json.add(name, seconds); });
  return json;
}

}  // namespace lloyd::cli

namespace lloyd::cli {

void add_memory_options(po::options_description& options) {
  options.add_options()
      ("max-memory-per-rank", po::value<std::string>(),
       "refuse before reading the data when the estimated peak memory per rank exceeds SIZE (2G, 512M, "
       "1.5GiB; powers of 1024) | none (default: the cgroup's memory limit / ranks on the node, where set)")
      ("estimate-only", po::bool_switch(),
       "print the estimated memory per rank (and the ranks needed under the limit) and exit without reading the data");
}

std::optional<MemoryLimit> memory_limit_option(const Comm& comm, const po::variables_map& vm,
                                               const std::string& command) {
  if (vm.count("max-memory-per-rank")) {
    const std::string text = vm["max-memory-per-rank"].as<std::string>();
    if (text == "none") return std::nullopt;
    const std::optional<double> bytes = parse_memory_size(text);
    if (!bytes || *bytes <= 0)
      throw UsageError("lloyd " + command + ": --max-memory-per-rank must be a size such as 2G, 512M or 1.5GiB, "
                       "or none (got '" + text + "')");
    return MemoryLimit{*bytes, "--max-memory-per-rank"};
  }
  // Slurm (and containers) confine a job's memory with a cgroup; ranks on one node share it.
  // Every rank agrees on the smallest share (nodes may differ).
  const int sharing = comm.ranks_on_node();
  // LLOYD_CGROUP_ROOT: where the cgroup files are read (tests/cli/memory.sh points it at a
  // made-up hierarchy; /sys/fs/cgroup otherwise).
  const char* root = std::getenv("LLOYD_CGROUP_ROOT");
  const std::optional<double> node_limit = cgroup_memory_limit(root && *root ? root : "/sys/fs/cgroup");
  const double mine = node_limit ? *node_limit / sharing : std::numeric_limits<double>::infinity();
  const double limit = comm.allreduce(mine, MPI_MIN);
  if (!std::isfinite(limit)) return std::nullopt;
  const int most_sharing = comm.allreduce(sharing, MPI_MAX);
  return MemoryLimit{limit, "the cgroup's memory limit / " + std::to_string(most_sharing) +
                                " ranks on the node; --max-memory-per-rank sets another"};
}

JsonObject memory_json(const MemoryEstimate& estimate, const std::optional<MemoryLimit>& limit, std::optional<int> needed) {
  constexpr double kMiB = 1024.0 * 1024.0;
  JsonObject parts;
  for (const MemoryPart& part : estimate.parts) parts.add(part.name, part.bytes / kMiB);
  JsonObject json;
  json.add("total", estimate.total() / kMiB).add("ranks", estimate.ranks).add("parts", parts);
  // Always both keys (null without a limit, or when no rank count fits), so that the object has
  // the same keys wherever it runs.
  if (limit) json.add("limit", limit->bytes / kMiB);
  else json.add_json("limit", "null");
  if (needed) json.add("ranks_needed", *needed);
  else json.add_json("ranks_needed", "null");
  return json;
}

namespace {
std::string spaced(std::string name) {
  std::replace(name.begin(), name.end(), '_', ' ');
  return name;
}
}  // namespace

void print_memory_estimate(const Comm& comm, const std::string& command, const MemoryEstimate& estimate,
                           const std::optional<MemoryLimit>& limit) {
  if (comm.rank() != 0) return;
  std::ostringstream line;
  line << "lloyd " << command << ": memory per rank ~" << format_memory_size(estimate.total()) << " at "
       << estimate.ranks << (estimate.ranks == 1 ? " rank" : " ranks") << " (limit "
       << (limit ? format_memory_size(limit->bytes) : std::string("none")) << "):";
  const char* separator = " ";
  for (const MemoryPart& part : estimate.parts) {
    line << separator << spaced(part.name) << " " << format_memory_size(part.bytes);
    if (part.phase != MemoryPhase::Always) line << " [" << to_string(part.phase) << "]";
    separator = ", ";
  }
  std::fprintf(stderr, "%s\n", line.str().c_str());
}

std::optional<int> ranks_needed(const std::optional<MemoryLimit>& limit,
                                const std::function<MemoryEstimate(int)>& estimate_for, bool* exactly) {
  if (exactly) *exactly = false;
  if (!limit) return std::nullopt;
  constexpr int kMostRanks = 1 << 20;
  if (const std::optional<int> fewest = fewest_ranks_within(limit->bytes, kMostRanks, estimate_for)) return fewest;
  for (int ranks = 1; ranks < kCollectiveReadAggregatorRanks; ++ranks)
    if (estimate_for(ranks).total() <= limit->bytes) {
      if (exactly) *exactly = true;
      return ranks;
    }
  return std::nullopt;
}

void refuse_beyond_memory(const std::string& command, const MemoryEstimate& estimate,
                          const std::optional<MemoryLimit>& limit, std::optional<int> needed, bool exactly) {
  if (!limit || estimate.total() <= limit->bytes) return;
  const int ranks = estimate.ranks;
  throw AgreedError(command + " needs ~" + format_memory_size(estimate.total()) + " per rank at " +
                    std::to_string(ranks) + (ranks == 1 ? " rank" : " ranks") + " (shard " +
                    format_memory_size(estimate.bytes_of("shard") + estimate.bytes_of("shard_csr")) +
                    "); the limit is " + format_memory_size(limit->bytes) + " (" + limit->source + "): " +
                    (!needed ? std::string("no rank count fits; raise the limit")
                     : exactly   ? "use " + std::to_string(*needed) + (*needed == 1 ? " rank" : " ranks") +
                                     " with " + format_memory_size(limit->bytes) +
                                     " each (from 3 ranks one rank also stages the collective read)"
                                 : "use at least " + std::to_string(*needed) + " ranks with " +
                                     format_memory_size(limit->bytes) + " each") +
                    " (nothing was read or written)");
}

bool plan_memory(const Comm& comm, const std::string& command, const std::function<MemoryEstimate(int)>& estimate_for,
                 bool verbose, bool estimate_only, bool json, const std::function<void(JsonObject&)>& describe,
                 MemoryPlan& plan) {
  plan.estimate = estimate_for(comm.size());
  plan.ranks_needed = ranks_needed(plan.limit, estimate_for, &plan.ranks_needed_exactly);
  if (verbose || (estimate_only && !json)) print_memory_estimate(comm, command, plan.estimate, plan.limit);
  if (estimate_only) {
    if (json && comm.rank() == 0) {
      JsonObject object;
      object.add("command", command).add("estimate_only", true);
      if (describe) describe(object);
      object.add("fits", !plan.limit || plan.estimate.total() <= plan.limit->bytes).add("memory_estimate_mb", plan.json());
      std::cout << object.str() << std::endl;
    }
    return false;
  }
  refuse_beyond_memory(command, plan.estimate, plan.limit, plan.ranks_needed, plan.ranks_needed_exactly);
  return true;
}

}  // namespace lloyd::cli
