#include "lloyd/io/sample_weights.hpp"

#include <cmath>
#include <cstdio>
#include <string>

#include "lloyd/error.hpp"

namespace lloyd {

namespace {

// The open dataset of `ref` after its checks (1-D, numeric, `rows` values). Not collective.
Hid open_weights(hid_t file, const DatasetRef& ref, std::uint64_t rows) {
  const std::string name = "sample weights " + ref.text();
  if (ref.path.empty() || ref.path[0] != '/') throw Error(name + ": the dataset path must start with '/'");
  if (!h5::path_exists(file, ref.path)) throw Error(name + ": no dataset '" + ref.path + "' in '" + ref.file + "'");
  H5O_info_t info;
  if (H5Oget_info_by_name(file, ref.path.c_str(), &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_DATASET)
    throw Error(name + " is not a dataset");
  Hid dataset(h5::checked(H5Dopen2(file, ref.path.c_str(), H5P_DEFAULT), "open " + ref.text()), H5Dclose);
  Hid space(h5::checked(H5Dget_space(dataset.get()), "H5Dget_space"), H5Sclose);
  const int dimensions = H5Sget_simple_extent_ndims(space.get());
  if (dimensions != 1)
    throw Error(name + " has " + std::to_string(dimensions) + " dimensions; expected 1 (one weight per row)");
  hsize_t count = 0;
  h5::checked_status(H5Sget_simple_extent_dims(space.get(), &count, nullptr), "H5Sget_simple_extent_dims");
  Hid type(h5::checked(H5Dget_type(dataset.get()), "H5Dget_type"), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  if (type_class != H5T_FLOAT && type_class != H5T_INTEGER)
    throw Error(name + " does not hold numbers; expected float or integer weights");
  if (count != rows)
    throw Error(name + " holds " + std::to_string(count) + " values; expected " + std::to_string(rows) +
                " (one per row of the data)");
  if (!h5::storage_allocated(dataset.get())) throw Error(name + " was never written");
  return dataset;
}

}  // namespace

std::vector<double> read_sample_weights(const Comm& comm, const DatasetRef& ref, std::uint64_t rows, RowRange mine) {
  const std::string name = "sample weights " + ref.text();
  Hid file = open_file_parallel(comm, ref.file);
  Hid dataset;
  run_agreed(comm, [&] { dataset = open_weights(file.get(), ref, rows); });
  std::vector<double> weights(mine.size());
  run_agreed(comm, [&] {
    Hid file_space(h5::checked(H5Dget_space(dataset.get()), "H5Dget_space"), H5Sclose);
    const hsize_t start = mine.begin, count = mine.size(), memory_count = std::max<hsize_t>(mine.size(), 1);
    Hid memory_space(h5::checked(H5Screate_simple(1, &memory_count, nullptr), "H5Screate_simple"), H5Sclose);
    if (mine.size() == 0) {
      h5::checked_status(H5Sselect_none(file_space.get()), "H5Sselect_none");
      h5::checked_status(H5Sselect_none(memory_space.get()), "H5Sselect_none");
    } else {
      h5::checked_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr),
                         "select rows");
    }
    Hid transfer = h5::collective_transfer();
    double placeholder = 0;
    h5::checked_status(H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, memory_space.get(), file_space.get(),
                               transfer.get(), mine.size() ? weights.data() : &placeholder),
                       "read " + ref.text());
  });
  check_sample_weights(comm, weights, mine.begin, name);
  return weights;
}

namespace {
constexpr double kSmallestPositiveWeight = 1e-300;  // 37 / 1e-300 (the largest race key) is far from overflow
}  // namespace

void check_sample_weights(const Comm& comm, std::span<const double> weights, std::uint64_t first_row,
                          const std::string& name) {
  // The first bad value (the lowest failing rank's message wins: the first bad row).
  run_agreed(comm, [&] {
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const double w = weights[i];
      if (std::isfinite(w) && (w == 0 || w >= kSmallestPositiveWeight)) continue;
      if (std::isfinite(w) && w > 0) {
        // The weighted draws key rows by -log(u) / w and the sums scale by w: a weight this
        // small overflows the key (the row is never drawn, leaving no row for a centre) or
        // vanishes from the sums. Weights are relative: scale them all up.
        char text[64];
        std::snprintf(text, sizeof text, "%.3g", w);
        throw Error(name + ": the weight of row " + std::to_string(first_row + i) + " is " + text +
                    ", below " + "1e-300, the smallest positive weight lloyd accepts (only the ratios of "
                    "weights matter: scale them all up)");
      }
      const std::string cause = std::isnan(w) ? "is NaN" : !std::isfinite(w) ? "is infinite" : "is negative";
      throw Error(name + ": the weight of row " + std::to_string(first_row + i) + " " + cause +
                  "; weights must be finite and >= 0");
    }
  });
  int any_positive = 0;
  for (const double w : weights) any_positive = any_positive || w > 0;
  if (comm.allreduce(any_positive, MPI_MAX) == 0)
    throw AgreedError(name + ": every weight is 0; at least one row must have a positive weight");
}

bool every_weight_is_one(const Comm& comm, const std::vector<double>& weights) {
  int other = 0;
  for (const double w : weights) other = other || w != 1.0;
  return comm.allreduce(other, MPI_MAX) == 0;
}

}  // namespace lloyd
