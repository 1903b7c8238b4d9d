#pragma once
// CSV/TSV text as a data matrix: the ranks split the file into byte ranges moved to line starts
// (io/text_lines.hpp), parse their lines with std::from_chars, then pass rows on so that each
// rank holds its block of rows (block_rows), as from any other input.
#include <cstdint>
#include <string>
#include <vector>

#include "lloyd/comm.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// How a CSV/TSV file is read, from its first line and the CsvOptions.
struct CsvLayout {
  char delimiter = ',';                     ///< tab for .tsv, or a first line with tabs and no comma
  bool header = false;                      ///< the first line names the columns
  std::uint64_t fields = 0;                 ///< fields of every line
  std::vector<std::string> names;           ///< the header's names (without quotes), if any
  std::vector<std::int64_t> column_of_field;  ///< per field: its column in the matrix, -1 if not selected
  std::uint64_t columns = 0;                ///< selected fields: the matrix's features
};

/// Reads the first line of the CSV file `ref.file` and applies ref.csv: the delimiter, whether
/// the first line is a header (auto: it has a field that is not a number), the selected
/// columns (--columns: header names or 0-based indices). An empty file, a binary file (NUL
/// bytes), an unknown column name or index or an empty selection is an Error with one line.
/// Not collective.
CsvLayout read_csv_layout(const DatasetRef& ref);

/// Collective over comm: reads every line once (each rank its byte range) and checks it: the
/// number of fields, that each selected field is a number lloyd accepts (std::from_chars, then
/// the refused-values rule of value_range.hpp). The first problem is an AgreedError naming
/// the file, the line (1-based, counted over the whole file) and the column (1-based field).
/// Returns rows × selected columns, float64.
MatrixShape inspect_csv(const Comm& comm, const DatasetRef& ref);

/// Collective over comm: this rank's block of rows (block_rows(shape.rows)) of the CSV file,
/// parsed as double and converted to T; the same checks as inspect_csv.
template <class T>
DenseShard<T> read_csv_shard(const Comm& comm, const DatasetRef& ref, const MatrixShape& shape);

}  // namespace lloyd
