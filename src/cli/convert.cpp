// lloyd convert: a data matrix in any input format written once as an HDF5 dataset, for
// repeated use (HDF5 is read fastest, and --stream needs an HDF5 or .npy file).
#include <cstdio>

#include "common.hpp"
#include "lloyd/io/hdf5.hpp"

namespace lloyd::cli {

namespace {

// Each rank writes its own rows; the file appears only when complete (OutputFile).
template <class T>
void write_converted(const Comm& comm, const DatasetRef& input, const MatrixShape& shape, const DatasetRef& output,
                     bool force) {
  const DenseShard<T> shard = read_shard<T>(comm, input, shape);
  OutputFile file(comm, output.file, force);
  file.write_distributed(output.path, shard.rows.data(), static_cast<std::uint64_t>(shard.local_rows()),
                         shard.first_row, shape.rows, shape.cols);
  write_attribute(file.root(), "source", input.text());
  file.commit();
}

}  // namespace

int run_convert(const Comm& comm, const Args& args) {
  const double start = MPI_Wtime();
  po::options_description description("options");
  description.add_options()
      ("input", po::value<std::string>(), kInputHelp)
      ("output", po::value<std::string>(), "HDF5 dataset to write: FILE.h5:/name (default /X)")
      ("type", po::value<std::string>(), "float32 | float64 (default: float32 for float32 input, else float64)")
      ("force", po::bool_switch(), "overwrite --output if it exists");
  add_input_options(description);
  const auto vm = parse(comm, "convert", "--input DATA.csv|DATA.npy|FILE.h5:/D --output FILE.h5:/X [options]",
                        description, args);
  if (!vm) return 0;
  DatasetRef input, output;
  try {
    input = input_option(comm, *vm, "convert");
    output = parse_dataset_ref(required<std::string>(*vm, "convert", "output"), "/X");
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(std::string("lloyd convert: ") + e.what());
  }
  if (output.path.size() < 2 || output.path.find('/', 1) != std::string::npos)
    throw UsageError("lloyd convert: --output dataset '" + output.path + "' must be a top-level name such as /X");
  std::optional<ElementType> type;
  if (vm->count("type")) {
    const std::string name = (*vm)["type"].as<std::string>();
    if (name == "float32") type = ElementType::Float32;
    else if (name == "float64") type = ElementType::Float64;
    else throw UsageError("lloyd convert: --type must be float32 or float64 (got '" + name + "')");
  }
  const bool force = (*vm)["force"].as<bool>();
  run_agreed(comm, [&] { check_output_path(output.file, force, {input.file}); });
  const MatrixShape shape = inspect_matrix(comm, input);
  const ElementType written = type.value_or(shape.type);
  if (written == ElementType::Float32) write_converted<float>(comm, input, shape, output, force);
  else write_converted<double>(comm, input, shape, output, force);
  const double seconds = elapsed_max(comm, start);
  if (comm.rank() == 0)
    std::printf("lloyd convert: %s -> %s  n=%llu d=%llu %s  %.3f s\n", input.text().c_str(), output.text().c_str(),
                static_cast<unsigned long long>(shape.rows), static_cast<unsigned long long>(shape.cols),
                to_string(written), seconds);
  return 0;
}

}  // namespace lloyd::cli
