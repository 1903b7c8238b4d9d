// The input formats (io/npy, io/csv, integer HDF5, FILE.h5 alone): every format gives each
// rank exactly the rows of the float64 HDF5 fixture, at any rank count (the binary runs at
// 1-4 ranks), and every bad input is one AgreedError naming the file (and line and column).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "../test_support.hpp"
#include "lloyd/io/csv.hpp"
#include "lloyd/io/npy.hpp"
#include "lloyd/io/row_source.hpp"

namespace lloyd {
namespace {

std::string input(const std::string& name) { return test::data_path("inputs/" + name); }

template <class T>
DenseShard<T> read_any(const Comm& comm, const std::string& spec, const CsvOptions& csv = {}) {
  const DatasetRef ref = resolve_input(comm, parse_input_ref(spec, csv));
  return read_shard<T>(comm, ref, inspect_matrix(comm, ref));
}

template <class T>
void expect_same_rows(const DenseShard<T>& actual, const DenseShard<T>& expected, const std::string& what) {
  EXPECT_EQ(actual.global_rows, expected.global_rows) << what;
  EXPECT_EQ(actual.first_row, expected.first_row) << what;
  ASSERT_EQ(actual.rows.rows(), expected.rows.rows()) << what;
  ASSERT_EQ(actual.rows.cols(), expected.rows.cols()) << what;
  EXPECT_TRUE(actual.rows.matrix() == expected.rows.matrix()) << what;  // bit for bit
}

// A text file written by rank 0, removed at the end of the test.
class ScratchText : public test::ScratchPath {
 public:
  ScratchText(const Comm& comm, const std::string& extension, const std::string& text)
      : ScratchPath(comm, test::scratch_path(comm, "inputs") + extension,
                    [&](const std::string& path) { std::ofstream(path, std::ios::binary) << text; }) {}
};

TEST(InputFormats, EveryFloat64FormatGivesTheHdf5Rows) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> expected = read_shard<double>(comm, {input("float.h5"), "/X"},
                                                         inspect_matrix(comm, {input("float.h5"), "/X"}));
  for (const char* name : {"float.h5", "float_c.npy", "float_f.npy", "float_be.npy", "float_v2.npy",
                           "float_header.csv", "float_noheader.csv", "float.tsv", "float_quoted.csv",
                           "float_crlf.csv"}) {
    const DatasetRef ref = resolve_input(comm, parse_input_ref(input(name)));
    EXPECT_EQ(inspect_matrix(comm, ref).type, ElementType::Float64) << name;
    expect_same_rows(read_any<double>(comm, input(name)), expected, name);
  }
  expect_same_rows(read_any<double>(comm, input("float_extra.csv"), {CsvOptions::Header::Detect, "a,b,c"}), expected,
                   "float_extra.csv --columns a,b,c");
}

TEST(InputFormats, Float32NpyStaysFloat32) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<float> expected = read_shard<float>(comm, {input("float.h5"), "/X32"},
                                                       inspect_matrix(comm, {input("float.h5"), "/X32"}));
  for (const char* name : {"float_f4.npy", "float_f4_f.npy"}) {
    EXPECT_EQ(inspect_matrix(comm, parse_input_ref(input(name))).type, ElementType::Float32) << name;
    expect_same_rows(read_any<float>(comm, input(name)), expected, name);
  }
}

TEST(InputFormats, IntegersAreReadAsFloat64) {
  Comm comm(MPI_COMM_WORLD);
  const DenseShard<double> expected = read_any<double>(comm, input("int.h5") + ":/X");
  for (const std::string& spec : {input("int.h5") + ":/X_u1", input("int.h5") + ":/X_i8", input("int.h5") + ":/X_i2",
                                 input("int_u1.npy"), input("int_i8.npy"), input("int_be_i4.npy"),
                                 input("int_u8_f.npy"), input("int_header.csv")}) {
    EXPECT_EQ(inspect_matrix(comm, parse_input_ref(spec)).type, ElementType::Float64) << spec;
    expect_same_rows(read_any<double>(comm, spec), expected, spec);
  }
}

TEST(InputFormats, FileAloneMeansItsX) {
  Comm comm(MPI_COMM_WORLD);
  const DatasetRef ref = resolve_input(comm, parse_input_ref(input("float.h5")));
  EXPECT_EQ(ref.format, InputFormat::Hdf5);
  EXPECT_EQ(ref.path, "/X");
  test::expect_agreed_error([&] { resolve_input(comm, parse_input_ref(input("no_x.h5"))); }, "no_x.h5:/Y");
  EXPECT_EQ(resolve_input(comm, parse_input_ref(input("float_f.npy"))).format, InputFormat::Npy);
  EXPECT_EQ(resolve_input(comm, parse_input_ref(input("float.tsv"))).format, InputFormat::Csv);
}

// Lines of every length (so that rank boundaries fall anywhere in a line, on its '\n' or on a
// '\r'), CRLF and LF mixed, blank lines inside and at the end: each rank gets its block of rows.
TEST(CsvText, RanksSplitTheFileAtLineStarts) {
  Comm comm(MPI_COMM_WORLD);
  std::string text = "first,second\r\n";
  std::vector<double> values;
  for (int i = 0; i < 61; ++i) {
    const double a = i * 0.25 - 3, b = 1e-3 * i * i;
    values.insert(values.end(), {a, b});
    char line[96];
    std::snprintf(line, sizeof line, "%s%.17g,%.17g%s", std::string(static_cast<std::size_t>(i % 7), ' ').c_str(), a, b,
                  i % 3 ? "\n" : "\r\n");
    text += line;
    if (i % 11 == 5) text += "\n";
  }
  text += "\n";
  const ScratchText file(comm, ".csv", text);
  const DenseShard<double> shard = read_any<double>(comm, file.path());
  ASSERT_EQ(shard.global_rows, 61u);
  const RowRange mine = block_rows(61, comm.size(), comm.rank());
  EXPECT_EQ(shard.first_row, mine.begin);
  ASSERT_EQ(static_cast<std::uint64_t>(shard.local_rows()), mine.size());
  for (std::uint64_t i = mine.begin; i < mine.end; ++i)
    for (int j = 0; j < 2; ++j)
      EXPECT_EQ(shard.rows(static_cast<Eigen::Index>(i - mine.begin), j), values[2 * i + static_cast<std::size_t>(j)])
          << "row " << i;
}

TEST(CsvText, ColumnsComeInTheOrderGiven) {
  Comm comm(MPI_COMM_WORLD);
  const ScratchText file(comm, ".csv", "x,y,z\n1,2,3\n4,5,6\n");
  const DenseShard<double> shard = read_any<double>(comm, file.path(), {CsvOptions::Header::Detect, "z, 0"});
  const RowMatrix<double> all = [&] {
    const std::vector<double> local(shard.rows.data(), shard.rows.data() + shard.rows.size());
    const std::vector<double> gathered = test::gather_all(comm, local);
    return RowMatrix<double>(Eigen::Map<const RowMatrix<double>>(gathered.data(), 2, 2));
  }();
  EXPECT_EQ(all(0, 0), 3);
  EXPECT_EQ(all(0, 1), 1);
  EXPECT_EQ(all(1, 0), 6);
  EXPECT_EQ(all(1, 1), 4);
}

// The line of a problem is counted over the whole file, whichever rank read it.
TEST(CsvText, ErrorsNameTheGlobalLineAndColumn) {
  Comm comm(MPI_COMM_WORLD);
  std::string good, bad_number, ragged;
  for (int line = 1; line <= 80; ++line) {
    const std::string row = std::to_string(line) + ".5,2,3\n";
    good += row;
    bad_number += line == 57 ? "56.5,2e,3\n" : row;
    ragged += line == 71 ? "1,2,3,4\n" : row;
  }
  const ScratchText number_file(comm, ".csv", bad_number), ragged_file(comm, ".csv", ragged);
  test::expect_agreed_error([&] { inspect_matrix(comm, parse_input_ref(number_file.path())); },
                      "line 57 column 2: '2e' is not a number");
  test::expect_agreed_error([&] { inspect_matrix(comm, parse_input_ref(ragged_file.path())); },
                      "line 71 has 4 field(s); expected 3 (as line 1)");
  const ScratchText header_forced(comm, ".txt", good);
  EXPECT_EQ(inspect_matrix(comm, parse_input_ref(header_forced.path(), {CsvOptions::Header::Yes, ""})).rows, 79u);
  EXPECT_EQ(inspect_matrix(comm, parse_input_ref(header_forced.path())).rows, 80u);
}

// Out of core: rows read by offset (C and Fortran order, converted dtypes) equal the shard's.
TEST(NpyRows, RowReaderReadsBlocksAndSelectedRows) {
  Comm comm(MPI_COMM_WORLD);
  const RowMatrix<double> floats = read_matrix<double>(comm, {input("float.h5"), "/X"});
  const RowMatrix<double> integers = read_matrix<double>(comm, {input("int.h5"), "/X"});
  const std::vector<std::uint64_t> sorted = {0, 3, 3, 4, 5, 17, 35, 36, 36};
  for (const char* name : {"float_c.npy", "float_f.npy", "float_be.npy", "int_be_i4.npy", "int_u8_f.npy"}) {
    const RowMatrix<double>& all = std::string(name).starts_with("int") ? integers : floats;
    const DatasetRef ref = resolve_input(comm, parse_input_ref(input(name)));
    const MatrixShape shape = inspect_matrix(comm, ref);
    RowReader<double> reader(ref, shape);
    RowMatrix<double> block(5, 3), picked(static_cast<Eigen::Index>(sorted.size()), 3);
    reader.read_block(30, 5, block.data());
    EXPECT_TRUE(block == all.middleRows(30, 5)) << name;
    reader.read_rows(sorted, picked.data());
    for (std::size_t q = 0; q < sorted.size(); ++q)
      EXPECT_TRUE(picked.row(static_cast<Eigen::Index>(q)) == all.row(static_cast<Eigen::Index>(sorted[q]))) << name;
    auto streamed = streamed_source<double>(comm, parse_input_ref(input(name)), shape);
    EXPECT_EQ(streamed->local_range().begin, block_rows(37, comm.size(), comm.rank()).begin);
  }
}

TEST(NpyRows, BadFilesAreOneLine) {
  Comm comm(MPI_COMM_WORLD);
  std::string npy;
  {
    std::ifstream in(input("float_c.npy"), std::ios::binary);
    npy.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const ScratchText truncated(comm, ".npy", npy.substr(0, npy.size() - 8));
  test::expect_agreed_error([&] { inspect_matrix(comm, parse_input_ref(truncated.path())); }, "is truncated: shape (37, 3)");
  std::string future = npy;
  future[6] = 9;
  const ScratchText version(comm, ".npy", future);
  test::expect_agreed_error([&] { inspect_matrix(comm, parse_input_ref(version.path())); }, "format version 9.0");
  test::expect_agreed_error([&] { inspect_matrix(comm, parse_input_ref(input("bad_object.npy"))); }, "object elements");
  test::expect_agreed_error([&] { inspect_matrix(comm, parse_input_ref(input("bad_oned.npy"))); }, "1-D array");
  test::expect_agreed_error([&] { inspect_matrix(comm, {input("bad_bool.h5"), "/X"}); }, "enum elements");
  // The CSV reader refuses to stream (its rows have no offsets).
  const DatasetRef csv = resolve_input(comm, parse_input_ref(input("float_header.csv")));
  test::expect_agreed_error([&] { streamed_source<double>(comm, csv, inspect_matrix(comm, csv)); }, "--stream");
}

}  // namespace
}  // namespace lloyd
