// The rules that keep a user's files safe (io/output_path.hpp), one by one.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "lloyd/error.hpp"
#include "lloyd/io/output_path.hpp"

namespace lloyd {
namespace {

namespace fs = std::filesystem;

class OutputPath : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() / ("lloyd-output-path-" + std::to_string(::getpid()));
    fs::create_directories(directory_);
  }
  void TearDown() override { fs::remove_all(directory_); }
  fs::path file(const std::string& name, const std::string& content) const {
    const fs::path path = directory_ / name;
    std::ofstream(path) << content;
    return path;
  }
  static std::string read(const fs::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path directory_;
};

TEST_F(OutputPath, AnOutputThatAliasesAnInputIsRefused) {
  const fs::path data = file("data.h5", "data");
  fs::create_hard_link(data, directory_ / "alias.h5");
  fs::create_symlink(data, directory_ / "link.h5");
  EXPECT_THROW(check_output_path(data, true, {data.string()}), Error);
  EXPECT_THROW(check_output_path(directory_ / "alias.h5", true, {data.string()}), Error);
  EXPECT_THROW(check_output_path(directory_ / "sub" / ".." / "data.h5", true, {data.string()}), Error);
  EXPECT_NO_THROW(check_output_path(directory_ / "model.h5", false, {data.string()}));
}

TEST_F(OutputPath, AnOutputInsideAnInputDirectoryIsRefused) {
  fs::create_directories(directory_ / "corpus" / "deep");
  file("corpus/a.txt", "a");
  const std::string corpus = (directory_ / "corpus").string();
  EXPECT_THROW(check_output_path(directory_ / "corpus" / "a.txt", true, {corpus}), Error);
  EXPECT_THROW(check_output_path(directory_ / "corpus" / "deep" / "new.h5", false, {corpus}), Error);
  // A sibling whose name merely starts like the directory is not inside it.
  EXPECT_NO_THROW(check_output_path(directory_ / "corpus2.h5", false, {corpus}));
}

TEST_F(OutputPath, OnlyRegularFilesAreReplacedAndOnlyWithForce) {
  const fs::path existing = file("model.h5", "old");
  EXPECT_THROW(check_output_path(existing, false, {}), Error);
  EXPECT_NO_THROW(check_output_path(existing, true, {}));
  ASSERT_EQ(::mkfifo((directory_ / "fifo").c_str(), 0600), 0);
  EXPECT_THROW(check_output_path(directory_ / "fifo", true, {}), Error);
  EXPECT_THROW(check_output_path("/dev/null", true, {}), Error);
  EXPECT_THROW(check_output_path(directory_, true, {}), Error);
  fs::create_symlink(existing, directory_ / "link.h5");
  EXPECT_THROW(check_output_path(directory_ / "link.h5", true, {}), Error);
  EXPECT_THROW(check_output_path(directory_ / "missing" / "model.h5", true, {}), Error);
}

TEST_F(OutputPath, OutputsMustBeDistinctFiles) {
  const fs::path model = file("model.h5", "m");
  fs::create_hard_link(model, directory_ / "same.h5");
  EXPECT_THROW(check_distinct_outputs({model.string(), (directory_ / "same.h5").string()}, {"a", "b"}), Error);
  EXPECT_THROW(check_distinct_outputs({(directory_ / "x.h5").string(), (directory_ / "." / "x.h5").string()},
                                      {"a", "b"}),
               Error);
  EXPECT_NO_THROW(check_distinct_outputs({model.string(), "", (directory_ / "ck.h5").string()}, {"a", "b", "c"}));
}

TEST_F(OutputPath, WithoutForceAFileThatAppearedDuringTheRunIsKept) {
  const fs::path partial = file("model.h5.partial-1", "new model");
  const fs::path target = file("model.h5", "appeared meanwhile");
  EXPECT_THROW(move_into_place(partial, target, false), Error);
  EXPECT_EQ(read(target), "appeared meanwhile");
  EXPECT_EQ(read(partial), "new model");
  move_into_place(partial, directory_ / "fresh.h5", false);
  EXPECT_EQ(read(directory_ / "fresh.h5"), "new model");
  EXPECT_FALSE(fs::exists(partial));
}

TEST_F(OutputPath, ForceReplacesARegularFileButNothingElse) {
  const fs::path partial = file("out.partial-1", "new");
  const fs::path target = file("out.h5", "old");
  move_into_place(partial, target, true);
  EXPECT_EQ(read(target), "new");
  const fs::path second = file("out.partial-2", "new");
  ASSERT_EQ(::mkfifo((directory_ / "fifo").c_str(), 0600), 0);
  EXPECT_THROW(move_into_place(second, directory_ / "fifo", true), Error);
  struct stat info {};
  ASSERT_EQ(::lstat((directory_ / "fifo").c_str(), &info), 0);
  EXPECT_TRUE(S_ISFIFO(info.st_mode));
}

TEST_F(OutputPath, OnlyTheVeryFileWrittenIsRemoved) {
  const fs::path checkpoint = file("ck.h5", "state");
  const auto written = identify(checkpoint);
  ASSERT_TRUE(written);
  // Replaced by another file under the same name: kept.
  fs::remove(checkpoint);
  file("ck.h5", "someone else's");
  EXPECT_FALSE(remove_if_unchanged(checkpoint, *written));
  EXPECT_TRUE(fs::exists(checkpoint));
  // Changed in place since: kept.
  const auto second = identify(checkpoint);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::ofstream(checkpoint, std::ios::app) << " and more";
  EXPECT_FALSE(remove_if_unchanged(checkpoint, *second));
  EXPECT_TRUE(fs::exists(checkpoint));
  // Unchanged: removed.
  const auto third = identify(checkpoint);
  EXPECT_TRUE(remove_if_unchanged(checkpoint, *third));
  EXPECT_FALSE(fs::exists(checkpoint));
}

}  // namespace
}  // namespace lloyd
