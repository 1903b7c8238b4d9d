#pragma once
// `lloyd fit --mode minibatch|kmedians|kmedoids`: the variants' options, fit and model.
#include <optional>
#include <string>

#include "common.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/kmeans/options.hpp"

namespace lloyd::cli {

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
};

bool is_variant_mode(const std::string& mode);
/// The variants' own options (they are ignored by the other modes).
void add_variant_options(po::options_description& description);
/// Collective over comm: validates the variant's options, fits, writes the model and prints
/// the result on rank 0.
int fit_variant(const Comm& comm, const po::variables_map& vm, VariantRequest request, double start);

}  // namespace lloyd::cli
