#include <gtest/gtest.h>

#include <filesystem>

#include "../test_support.hpp"
#include "lloyd/io/hdf5.hpp"

namespace lloyd {
namespace {

using test::data_path;

TEST(ReadShard, EachRankReadsItsContiguousBlock) {
  Comm comm(MPI_COMM_WORLD);
  const DatasetRef ref{data_path("lloyd_blobs_f64.h5"), "/X"};
  const MatrixShape shape = inspect_matrix(comm, ref);
  EXPECT_EQ(shape.rows, 997u);
  EXPECT_EQ(shape.cols, 5u);
  EXPECT_EQ(shape.type, ElementType::Float64);
  const auto shard = read_shard<double>(comm, ref, shape);
  const RowRange mine = block_rows(997, comm.size(), comm.rank());
  EXPECT_EQ(shard.first_row, mine.begin);
  EXPECT_EQ(static_cast<std::uint64_t>(shard.local_rows()), mine.size());
  const auto whole = read_matrix<double>(comm, ref);
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    EXPECT_EQ(shard.rows.row(i), whole.row(static_cast<Eigen::Index>(mine.begin) + i));
}

TEST(ReadShard, ChunkedCompressedDatasetReadsTheSameRows) {
  Comm comm(MPI_COMM_WORLD);
  const std::string file = data_path("chunked_gzip.h5");
  const auto chunked = read_shard<double>(comm, {file, "/X"}, inspect_matrix(comm, {file, "/X"}));
  const auto plain = read_shard<double>(comm, {file, "/X_contiguous"},
                                        inspect_matrix(comm, {file, "/X_contiguous"}));
  EXPECT_EQ(chunked.first_row, plain.first_row);
  EXPECT_TRUE(chunked.rows.matrix() == plain.rows.matrix());
  EXPECT_GT(chunked.local_rows(), 0);
}

TEST(ReadShard, Float32DataReadsAsFloat32) {
  Comm comm(MPI_COMM_WORLD);
  const DatasetRef ref{data_path("lloyd_blobs_f32.h5"), "/X"};
  EXPECT_EQ(inspect_matrix(comm, ref).type, ElementType::Float32);
}

TEST(ReadShard, NonFiniteValueNamesTheRowOnEveryRank) {
  Comm comm(MPI_COMM_WORLD);
  const DatasetRef ref{data_path("bad/nan.h5"), "/X"};
  try {
    read_shard<double>(comm, ref, inspect_matrix(comm, ref));
    FAIL() << "NaN not detected";
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("row 37"), std::string::npos) << e.what();
  }
}

TEST(OutputFile, LabelSlicesAreWrittenCollectivelyAndRankZeroGathersNothing) {
  Comm comm(MPI_COMM_WORLD);
  const std::string path = test::scratch_path(comm, "labels");
  const std::uint64_t n = 1003;
  const RowRange mine = block_rows(n, comm.size(), comm.rank());
  std::vector<std::int32_t> labels;
  for (std::uint64_t g = mine.begin; g < mine.end; ++g) labels.push_back(static_cast<std::int32_t>(g % 7));
  H5D_mpio_actual_io_mode_t mode;
  {
    OutputFile file(comm, path, /*replace_existing=*/false);
    file.write_distributed("/labels", labels.data(), labels.size(), mine.begin, n, 0);
    mode = file.last_io_mode();
    file.commit();
  }
  // The transfer must have been collective (MPI-IO collective buffering), not independent.
  EXPECT_NE(mode, H5D_MPIO_NO_COLLECTIVE);
  // Read the file back as a 1-column matrix view: row g holds g % 7.
  Hid file = open_file_parallel(comm, path);
  Hid dataset(H5Dopen2(file.get(), "/labels", H5P_DEFAULT), H5Dclose);
  std::vector<std::int32_t> all(n);
  ASSERT_GE(H5Dread(dataset.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, all.data()), 0);
  for (std::uint64_t g = 0; g < n; ++g) ASSERT_EQ(all[g], static_cast<std::int32_t>(g % 7));
  dataset.reset();
  file.reset();
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

TEST(OutputFile, MoreRanksThanRowsWritesAndReadsEmptyShards) {
  Comm comm(MPI_COMM_WORLD);
  const std::string path = test::scratch_path(comm, "tiny");
  const std::uint64_t n = 2, d = 3;
  const RowRange mine = block_rows(n, comm.size(), comm.rank());
  std::vector<double> rows;
  for (std::uint64_t g = mine.begin; g < mine.end; ++g)
    for (std::uint64_t j = 0; j < d; ++j) rows.push_back(10.0 * g + j);
  {
    OutputFile file(comm, path, /*replace_existing=*/false);
    file.write_distributed("/X", rows.data(), mine.size(), mine.begin, n, d);
    file.commit();
  }
  const auto shard = read_shard<double>(comm, {path, "/X"}, inspect_matrix(comm, {path, "/X"}));
  EXPECT_EQ(static_cast<std::uint64_t>(shard.local_rows()), mine.size());
  for (Eigen::Index i = 0; i < shard.local_rows(); ++i)
    EXPECT_EQ(shard.rows(i, 2), 10.0 * static_cast<double>(shard.global_index(i)) + 2);
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(path);
}

TEST(OutputFile, AnUncommittedFileLeavesNothingBehind) {
  Comm comm(MPI_COMM_WORLD);
  const std::string path = test::scratch_path(comm, "abandoned");
  {
    OutputFile file(comm, path, /*replace_existing=*/false);
    const double value = 1.0;
    file.write_replicated("/x", &value, 1, 0);
    // No commit: as if the run failed here.
  }
  comm.barrier();
  const auto directory = std::filesystem::path(path).parent_path();
  const auto stem = std::filesystem::path(path).filename().string();
  EXPECT_FALSE(std::filesystem::exists(path));
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    EXPECT_EQ(entry.path().filename().string().rfind(stem, 0), std::string::npos)
        << "left behind: " << entry.path();
}

}  // namespace
}  // namespace lloyd
