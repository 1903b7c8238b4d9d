// libFuzzer target: the readers of the other input formats (io/npy, io/csv) as lloyd opens
// --input FILE: the first byte picks the file's name (.npy, .csv, .tsv, or .txt with
// --columns 1,0 and a forced header), the rest is its content. Bad files must be lloyd::Error;
// anything else (a crash, a sanitizer report, another exception) is a finding, and so is a
// shard that holds a value the refused-values rule should have stopped.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_support.hpp"
#include "lloyd/io/row_source.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lloyd;
  if (size == 0) return 0;
  static std::uint64_t count = 0;
  static const char* const kExtensions[] = {".npy", ".csv", ".tsv", ".txt"};
  const int kind = data[0] % 4;
  const char* dir = std::getenv("TMPDIR");
  const std::string path = std::string(dir ? dir : "/tmp") + "/lloyd-fuzz-inputs-" + std::to_string(getpid()) + "-" +
                           std::to_string(count++) + kExtensions[kind];
  {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (!file || std::fwrite(data + 1, 1, size - 1, file) != size - 1 || std::fclose(file) != 0) std::abort();
  }
  CsvOptions csv;
  if (kind == 3) csv = {CsvOptions::Header::Yes, "1,0"};
  try {
    const DatasetRef ref = resolve_input(fuzz::world(), parse_input_ref(path, kind == 0 ? CsvOptions{} : csv));
    const MatrixShape shape = inspect_matrix(fuzz::world(), ref);
    // A .npy file is as large as its header says once it is complete: bound what is read.
    if (shape.rows <= (std::uint64_t{1} << 20) / shape.cols) {
      const DenseShard<double> shard = read_shard<double>(fuzz::world(), ref, shape);
      for (Eigen::Index i = 0; i < shard.rows.size(); ++i)
        if (!std::isfinite(shard.rows.data()[i])) std::abort();
      if (ref.format == InputFormat::Npy && shape.rows > 2) {
        RowReader<double> reader(ref, shape);
        const std::uint64_t picks[] = {0, 0, shape.rows - 1};
        RowMatrix<double> rows(3, static_cast<Eigen::Index>(shape.cols));
        reader.read_rows(picks, rows.data());
      }
    }
  } catch (const Error&) {
  }
  std::remove(path.c_str());
  return 0;
}
