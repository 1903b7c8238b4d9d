#include <cstdio>
#include <iostream>

#include "common.hpp"
#include "lloyd/generate.hpp"
#include "lloyd/io/hdf5.hpp"

namespace lloyd::cli {

namespace {

template <class T>
void write_blobs(const Comm& comm, const BlobOptions& options, const std::string& output, bool force) {
  const Blobs<T> blobs = make_blobs<T>(comm, options);
  OutputFile file(comm, output, force);
  const auto d = static_cast<std::uint64_t>(options.features);
  file.write_distributed("/X", blobs.data.rows.data(),
                         static_cast<std::uint64_t>(blobs.data.local_rows()), blobs.data.first_row,
                         options.samples, d);
  file.write_distributed("/y", blobs.truth.data(), blobs.truth.size(), blobs.data.first_row,
                         options.samples, 0);
  const RowMatrix<T> centers = blobs.centers.template cast<T>();
  file.write_replicated("/centers", centers.data(), static_cast<std::uint64_t>(options.centers), d);
  write_attribute(file.root(), "seed", static_cast<std::int64_t>(options.seed));
  write_attribute(file.root(), "cluster_std", options.cluster_std);
  write_attribute(file.root(), "generator", std::string("lloyd generate (Gaussian blobs)"));
  file.commit();
}

}  // namespace

int run_generate(const Comm& comm, const Args& args) {
  const double start = MPI_Wtime();
  po::options_description description("options");
  description.add_options()
      ("output", po::value<std::string>(), "file to write: /X (n x d), /y (n), /centers (C x d)")
      ("samples", po::value<std::int64_t>(), "number of rows n (at least 1)")
      ("features", po::value<int>(), "number of features d (at least 1)")
      ("centers", po::value<int>(), "number of blobs C (1 to n)")
      ("cluster-std", po::value<double>()->default_value(1.0), "standard deviation of each blob (finite, >= 0, small enough that every value fits the dtype)")
      ("dtype", po::value<std::string>()->default_value("float64"), "float32 | float64")
      ("seed", po::value<std::int64_t>()->default_value(0), "random seed >= 0 (the data do not depend on the rank count)")
      ("force", po::bool_switch(), "overwrite --output if it exists");
  const auto vm = parse(comm, "generate",
                        "--output FILE.h5 --samples N --features D --centers C [options]",
                        description, args);
  if (!vm) return 0;
  BlobOptions options;
  const std::string output = required<std::string>(*vm, "generate", "output");
  // Counts are read signed: Boost reads "-10" as a huge unsigned number.
  const auto samples = required<std::int64_t>(*vm, "generate", "samples");
  options.features = required<int>(*vm, "generate", "features");
  options.centers = required<int>(*vm, "generate", "centers");
  options.cluster_std = (*vm)["cluster-std"].as<double>();
  const auto seed = (*vm)["seed"].as<std::int64_t>();
  const std::string dtype = (*vm)["dtype"].as<std::string>();
  if (samples < 1)
    throw UsageError("lloyd generate: --samples must be at least 1 (got " + std::to_string(samples) + ")");
  if (options.features < 1)
    throw UsageError("lloyd generate: --features must be at least 1 (got " +
                     std::to_string(options.features) + ")");
  if (options.centers < 1 || options.centers > samples)
    throw UsageError("lloyd generate: --centers must be between 1 and --samples (got " +
                     std::to_string(options.centers) + ")");
  if (seed < 0) throw UsageError("lloyd generate: --seed must be >= 0 (got " + std::to_string(seed) + ")");
  options.samples = static_cast<std::uint64_t>(samples);
  options.seed = static_cast<std::uint64_t>(seed);
  if (dtype != "float32" && dtype != "float64")
    throw UsageError("lloyd generate: --dtype must be float32 or float64 (got '" + dtype + "')");
  // Inf, NaN or a spread that overflows the dtype would write non-finite data.
  const double std_limit =
      dtype == "float32" ? max_cluster_std<float>(options) : max_cluster_std<double>(options);
  if (!(options.cluster_std >= 0 && options.cluster_std <= std_limit)) {
    char text[128];
    std::snprintf(text, sizeof text, "from 0 to %.3g for %s (got %g)", std_limit, dtype.c_str(),
                  options.cluster_std);
    throw UsageError(std::string("lloyd generate: --cluster-std must be a finite number ") + text);
  }
  run_agreed(comm, [&] { check_output_path(output, (*vm)["force"].as<bool>(), {}); });

  if (dtype == "float32")
    write_blobs<float>(comm, options, output, (*vm)["force"].as<bool>());
  else
    write_blobs<double>(comm, options, output, (*vm)["force"].as<bool>());
  const double seconds = elapsed_max(comm, start);
  if (comm.rank() == 0)
    std::printf("lloyd generate: %llu x %d %s, %d blobs  %.3f s  -> %s\n",
                static_cast<unsigned long long>(options.samples), options.features, dtype.c_str(),
                options.centers, seconds, output.c_str());
  return 0;
}

}  // namespace lloyd::cli
