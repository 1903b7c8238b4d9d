// libFuzzer target: the readers of a data set as lloyd opens --input FILE.h5:/X — the CSR
// validator (io/csr.cpp) for a sparse group, the dense reader otherwise. Bad files must be
// lloyd::Error; anything else (a crash, a sanitizer report, another exception) is a finding.
#include <cmath>

#include "fuzz_support.hpp"
#include "lloyd/io/csr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lloyd;
  static const fuzz::Vocabulary vocabulary = fuzz::csr_vocabulary();
  const fuzz::InputFile input(data, size, vocabulary);
  const DatasetRef ref{input.path(), "/X"};
  try {
    const MatrixShape shape = inspect_matrix(fuzz::world(), ref);
    // A dense data set is as large as it says (lloyd reads what it is given); a fuzz input
    // needs no more than this to reach every check.
    if (!shape.sparse && shape.rows > (std::uint64_t{1} << 24) / shape.cols) return 0;
    if (shape.sparse) {
      const CsrShard<double> rows = read_csr_shard<double>(fuzz::world(), ref, shape);
      // What the validator promises the kernels: offsets within the values, columns in
      // [0, d) and increasing within a row, finite values.
      for (Eigen::Index i = 0; i < rows.local_rows(); ++i)
        for (std::int64_t e = rows.row_begin(i); e < rows.row_end(i); ++e) {
          const auto at = static_cast<std::size_t>(e);
          if (at >= rows.values.size() || rows.indices[at] < 0 ||
              static_cast<std::uint64_t>(rows.indices[at]) >= rows.columns ||
              (e > rows.row_begin(i) && rows.indices[at] <= rows.indices[at - 1]) ||
              !std::isfinite(rows.values[at]))
            std::abort();
        }
    } else if (shape.type == ElementType::Float32) {
      read_shard<float>(fuzz::world(), ref, shape);
    } else {
      read_shard<double>(fuzz::world(), ref, shape);
    }
  } catch (const Error&) {
  }
  return 0;
}
