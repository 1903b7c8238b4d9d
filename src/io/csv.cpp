#include "lloyd/io/csv.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>

#include "lloyd/error.hpp"
#include "lloyd/io/text_lines.hpp"
#include "lloyd/out_of_memory.hpp"
#include "lloyd/value_range.hpp"

namespace lloyd {

namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
// Bytes at the start of the file searched for a NUL: text never holds one.
constexpr std::uint64_t kBinaryProbeBytes = 4096;

std::string in_file(const std::string& file) { return "input '" + file + "'"; }

// A field without the blanks around it and without one pair of enclosing double quotes.
std::string_view bare(std::string_view field) {
  while (!field.empty() && (field.front() == ' ' || field.front() == '\t')) field.remove_prefix(1);
  while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.remove_suffix(1);
  if (field.size() >= 2 && field.front() == '"' && field.back() == '"') field = field.substr(1, field.size() - 2);
  return field;
}

enum class NumberStatus { Ok, NotANumber, Empty, BeyondDouble };

// A field as a double: std::from_chars (locale-free, correctly rounded), with an optional '+'.
NumberStatus parse_number(std::string_view field, double& value) {
  field = bare(field);
  if (field.empty()) return NumberStatus::Empty;
  if (field.front() == '+' && field.size() > 1 && field[1] != '-' && field[1] != '+') field.remove_prefix(1);
  const char* end = field.data() + field.size();
  const auto [ptr, ec] = std::from_chars(field.data(), end, value);
  if (ptr != end || ec == std::errc::invalid_argument) return NumberStatus::NotANumber;
  if (ec == std::errc::result_out_of_range) {
    // Too large (a double cannot hold it) or too small (it becomes 0 or a subnormal, as in Python).
    const std::string copy(field);
    value = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(value)) return NumberStatus::BeyondDouble;
  }
  return NumberStatus::Ok;
}

// Calls visit(field_index, field) for the fields of `line`; returns how many there are.
template <class Visit>
std::uint64_t for_each_field(std::string_view line, char delimiter, Visit&& visit) {
  std::uint64_t index = 0;
  for (std::size_t start = 0;;) {
    const std::size_t end = line.find(delimiter, start);
    visit(index++, line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return index;
    start = end + 1;
  }
}

std::string_view without_line_end(std::string_view line, std::uint64_t offset) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF line ends
  if (offset == 0 && line.starts_with(kByteOrderMark)) line.remove_prefix(kByteOrderMark.size());
  return line;
}

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t") == std::string_view::npos;
}

std::string column_name(const CsvLayout& layout, std::uint64_t field) {
  std::string text = "column " + std::to_string(field + 1);
  if (layout.header && field < layout.names.size()) text += " (" + layout.names[field] + ")";
  return text;
}

// This rank's lines, checked; values kept when asked.
struct RankLines {
  std::vector<double> values;   ///< rows × columns, in line order
  std::uint64_t rows = 0;       ///< data rows (header and blank lines excluded)
  std::uint64_t lines = 0;      ///< lines visited (every line: header and blank ones too)
  std::optional<std::pair<std::uint64_t, std::string>> problem;  ///< (local line index, what is wrong)
};

RankLines parse_rank_lines(const Comm& comm, const DatasetRef& ref, const CsvLayout& layout, std::uint64_t size,
                           bool keep_values) {
  RankLines mine;
  const double limit = largest_accepted_magnitude<double>(layout.columns);
  std::vector<double> row(layout.columns);
  for_each_line_starting_in(
      ref.file, block_rows(size, comm.size(), comm.rank()), "input", [&](std::string& text, std::uint64_t offset) {
        const std::uint64_t index = mine.lines++;
        if (mine.problem || (offset == 0 && layout.header)) return;
        const std::string_view line = without_line_end(text, offset);
        if (blank(line)) return;  // blank lines (e.g. a trailing one) hold no row
        std::optional<std::string> problem;
        const std::uint64_t fields = for_each_field(line, layout.delimiter, [&](std::uint64_t field, std::string_view value) {
          if (problem || field >= layout.fields || layout.column_of_field[field] < 0) return;
          double& x = row[static_cast<std::size_t>(layout.column_of_field[field])];
          switch (parse_number(value, x)) {
            case NumberStatus::Ok:
              if (!accepted_value(x, limit))
                problem = " " + column_name(layout, field) + " holds " + refused_value_reason(x, layout.columns);
              break;
            case NumberStatus::Empty:
              problem = " " + column_name(layout, field) + " is empty (a missing value)";
              break;
            case NumberStatus::NotANumber:
              problem = " " + column_name(layout, field) + ": '" + std::string(bare(value).substr(0, 40)) +
                        "' is not a number";
              break;
            case NumberStatus::BeyondDouble:
              problem = " " + column_name(layout, field) + ": '" + std::string(bare(value).substr(0, 40)) +
                        "' is beyond the range of float64";
              break;
          }
        });
        if (fields != layout.fields) {
          mine.problem.emplace(index, " has " + std::to_string(fields) + " field(s); expected " +
                                          std::to_string(layout.fields) + (layout.header ? " (as the header)" : " (as line 1)"));
          return;
        }
        if (problem) {
          mine.problem.emplace(index, *problem);
          return;
        }
        ++mine.rows;
        if (keep_values) mine.values.insert(mine.values.end(), row.begin(), row.end());
      });
  return mine;
}

// Collective over comm: the layout and this rank's lines, every problem an AgreedError naming
// the file, and the line counted over the whole file.
RankLines read_checked_lines(const Comm& comm, const DatasetRef& ref, bool keep_values, CsvLayout& layout) {
  std::uint64_t size = 0;
  run_agreed(comm, [&] {
    std::error_code ec;
    size = std::filesystem::file_size(ref.file, ec);
    if (ec) throw Error("cannot read " + in_file(ref.file) + ": " + ec.message());
    layout = read_csv_layout(ref);
  });
  RankLines mine;
  run_agreed(comm, [&] { mine = parse_rank_lines(comm, ref, layout, size, keep_values); });
  // Line numbers over the whole file: the lines of the ranks before this one come first.
  std::uint64_t before = 0;
  check_mpi(MPI_Exscan(&mine.lines, &before, 1, MPI_UINT64_T, MPI_SUM, comm.get()), "MPI_Exscan");
  if (comm.rank() == 0) before = 0;  // MPI_Exscan leaves rank 0's result undefined
  std::optional<std::string> problem;
  if (mine.problem)
    problem = in_file(ref.file) + " line " + std::to_string(before + mine.problem->first + 1) + mine.problem->second;
  comm.agree(problem);
  return mine;
}

}  // namespace

CsvLayout read_csv_layout(const DatasetRef& ref) {
  const std::string& file = ref.file;
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot read " + in_file(file) + ": " + std::strerror(errno));
  std::string probe(kBinaryProbeBytes, '\0');
  in.read(probe.data(), static_cast<std::streamsize>(probe.size()));
  probe.resize(static_cast<std::size_t>(in.gcount()));
  if (probe.empty()) throw Error(in_file(file) + " is empty (no rows)");
  if (const auto nul = probe.find('\0'); nul != std::string::npos)
    throw Error(in_file(file) + " is not CSV text: it holds a NUL byte at offset " + std::to_string(nul) +
                " (a binary file?)");
  in.clear();
  in.seekg(0);
  std::string first;
  std::getline(in, first);
  const std::string_view line = without_line_end(first, 0);
  if (blank(line)) throw Error(in_file(file) + " line 1 is empty: expected a header or the first row");

  CsvLayout layout;
  const std::string extension = std::filesystem::path(file).extension().string();
  const bool tab = extension == ".tsv" || extension == ".TSV" ||
                   (line.find('\t') != std::string_view::npos && line.find(',') == std::string_view::npos);
  layout.delimiter = tab ? '\t' : ',';
  std::vector<std::string> first_fields;
  layout.fields = for_each_field(line, layout.delimiter,
                                 [&](std::uint64_t, std::string_view field) { first_fields.emplace_back(bare(field)); });
  switch (ref.csv.header) {
    case CsvOptions::Header::Yes: layout.header = true; break;
    case CsvOptions::Header::No: layout.header = false; break;
    case CsvOptions::Header::Detect:
      layout.header = std::any_of(first_fields.begin(), first_fields.end(), [](const std::string& field) {
        double value = 0;
        return !field.empty() && parse_number(field, value) == NumberStatus::NotANumber;
      });
      break;
  }
  if (layout.header) layout.names = first_fields;

  layout.column_of_field.assign(layout.fields, -1);
  if (ref.csv.columns.empty()) {
    for (std::uint64_t f = 0; f < layout.fields; ++f) layout.column_of_field[f] = static_cast<std::int64_t>(f);
    layout.columns = layout.fields;
    return layout;
  }
  std::string_view list = ref.csv.columns;
  for_each_field(list, ',', [&](std::uint64_t, std::string_view token) {
    token = bare(token);
    if (token.empty()) return;
    std::uint64_t field = 0;
    const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), field);
    if (ec == std::errc() && ptr == token.data() + token.size()) {
      if (field >= layout.fields)
        throw Error("--columns: index " + std::string(token) + " is out of range: " + in_file(file) + " has " +
                    std::to_string(layout.fields) + " column(s), indices 0.." + std::to_string(layout.fields - 1));
    } else {
      if (!layout.header)
        throw Error("--columns: '" + std::string(token) + "' is not a 0-based index, and " + in_file(file) +
                    " has no header line to name columns (--csv-header yes if its first line is one)");
      const auto at = std::find(layout.names.begin(), layout.names.end(), token);
      if (at == layout.names.end()) {
        std::string known;
        for (const std::string& name : layout.names) known += (known.empty() ? "" : ", ") + name;
        throw Error("--columns: no column '" + std::string(token) + "' in the header of " + in_file(file) + " (" +
                    known + ")");
      }
      field = static_cast<std::uint64_t>(at - layout.names.begin());
    }
    if (layout.column_of_field[field] >= 0)
      throw Error("--columns: column " + std::string(token) + " of " + in_file(file) + " is selected twice");
    layout.column_of_field[field] = static_cast<std::int64_t>(layout.columns++);
  });
  if (layout.columns == 0) throw Error("--columns '" + ref.csv.columns + "' selects no column of " + in_file(file));
  return layout;
}

MatrixShape inspect_csv(const Comm& comm, const DatasetRef& ref) {
  CsvLayout layout;
  const RankLines mine = read_checked_lines(comm, ref, /*keep_values=*/false, layout);
  const std::uint64_t rows = comm.allreduce(mine.rows, MPI_SUM);
  run_agreed(comm, [&] {
    if (rows == 0) throw Error(in_file(ref.file) + " has no rows" + (layout.header ? " below its header" : ""));
  });
  return {rows, layout.columns, ElementType::Float64};
}

template <class T>
DenseShard<T> read_csv_shard(const Comm& comm, const DatasetRef& ref, const MatrixShape& shape) {
  CsvLayout layout;
  RankLines mine = read_checked_lines(comm, ref, /*keep_values=*/true, layout);
  const std::uint64_t d = layout.columns;
  // The rows this rank parsed are rows [parsed_first, parsed_first + mine.rows) of the file;
  // every rank sends each row on to the rank whose block (block_rows) holds it.
  const std::vector<std::uint64_t> parsed = comm.allgatherv(std::span<const std::uint64_t>(&mine.rows, 1));
  std::vector<std::uint64_t> parsed_first(parsed.size() + 1, 0);
  for (std::size_t r = 0; r < parsed.size(); ++r) parsed_first[r + 1] = parsed_first[r] + parsed[r];
  run_agreed(comm, [&] {
    if (parsed_first.back() != shape.rows || d != shape.cols)
      throw Error(in_file(ref.file) + " changed while it was read (" + std::to_string(parsed_first.back()) + " rows)");
  });
  const int p = comm.size(), me = comm.rank();
  const RowRange block = block_rows(shape.rows, p, me);
  DenseShard<T> shard;
  shard.global_rows = shape.rows;
  shard.first_row = block.begin;
  run_agreed(comm, [&] {
    allocating("the rank's " + std::to_string(block.size()) + " rows of " + ref.text(),
               static_cast<double>(block.size()) * static_cast<double>(d) * sizeof(T),
               [&] { shard.rows.resize(static_cast<Eigen::Index>(block.size()), static_cast<Eigen::Index>(d)); });
  });
  std::vector<T> converted;
  const T* send = nullptr;
  if constexpr (std::is_same_v<T, double>) {
    send = mine.values.data();
  } else {
    converted.assign(mine.values.begin(), mine.values.end());
    std::vector<double>().swap(mine.values);
    send = converted.data();
  }
  auto overlap = [](std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t e) {
    return std::max(a, c) < std::min(b, e) ? std::min(b, e) - std::max(a, c) : std::uint64_t{0};
  };
  std::vector<int> send_counts(p), send_offsets(p), receive_counts(p), receive_offsets(p);
  std::optional<std::string> too_many;
  for (int r = 0; r < p; ++r) {
    const RowRange target = block_rows(shape.rows, p, r);
    const std::uint64_t out = overlap(parsed_first[me], parsed_first[me + 1], target.begin, target.end);
    const std::uint64_t in = overlap(parsed_first[r], parsed_first[r + 1], block.begin, block.end);
    if (out > INT32_MAX || in > INT32_MAX || parsed_first[me + 1] - parsed_first[me] > INT32_MAX)
      too_many = in_file(ref.file) + ": more than 2^31 rows per rank; use more ranks";
    send_counts[r] = static_cast<int>(out);
    send_offsets[r] = static_cast<int>(out ? std::max(parsed_first[me], target.begin) - parsed_first[me] : 0);
    receive_counts[r] = static_cast<int>(in);
    receive_offsets[r] = static_cast<int>(in ? std::max(parsed_first[r], block.begin) - block.begin : 0);
  }
  comm.agree(too_many);
  MPI_Datatype row_type;
  check_mpi(MPI_Type_contiguous(static_cast<int>(d), mpi_type<T>(), &row_type), "MPI_Type_contiguous");
  check_mpi(MPI_Type_commit(&row_type), "MPI_Type_commit");
  T placeholder{};
  const int status = MPI_Alltoallv(send ? send : &placeholder, send_counts.data(), send_offsets.data(), row_type,
                                   block.size() ? shard.rows.mutable_data() : &placeholder, receive_counts.data(),
                                   receive_offsets.data(), row_type, comm.get());
  MPI_Type_free(&row_type);
  check_mpi(status, "MPI_Alltoallv");
  // Values that float64 accepts may be beyond float32's bound (convert --type float32).
  run_agreed(comm, [&] {
    const auto count = static_cast<std::size_t>(shard.rows.size());
    const std::size_t at = first_refused_value(shard.rows.data(), count, largest_accepted_magnitude<T>(d));
    if (at < count)
      throw Error(refused_value_message(in_file(ref.file) + " as float" + std::to_string(8 * sizeof(T)),
                                        shard.first_row + at / d, at % d, shard.rows.data()[at], d));
  });
  return shard;
}

template DenseShard<float> read_csv_shard(const Comm&, const DatasetRef&, const MatrixShape&);
template DenseShard<double> read_csv_shard(const Comm&, const DatasetRef&, const MatrixShape&);

}  // namespace lloyd
