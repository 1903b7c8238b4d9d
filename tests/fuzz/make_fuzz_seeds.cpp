// Makes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/): the descriptions
// (h5_description.hpp) of real files. Run from the repository root after building build-fuzz/:
//
//   T=build-fuzz/tests/fuzz/make_fuzz_seeds; D=tests/data/bad
//   mpirun -n 1 $T checkpoint-files /tmp/ck      # lloyd's own writer, the fit of checkpoint_identity()
//   mpirun -n 1 $T checkpoint tests/fuzz/corpus/checkpoint /tmp/ck/*.h5
//   mpirun -n 1 $T csr tests/fuzz/corpus/csr $D/csr_good.h5 $D/csr_duplicate_column.h5 \
//       $D/csr_indptr_decreasing.h5 $D/csr_no_shape.h5 $D/good.h5
//   mpirun -n 1 $T model tests/fuzz/corpus/model $D/model_lloyd_vlen.h5 $D/model_bisecting_good.h5 \
//       MODELS...   # and models written by lloyd fit on bad/good.h5: --k 3; --k 4 --mode bisecting;
//                   # --k 3 --mode kmedoids --distance manhattan
//   mpirun -n 1 $T build-model INPUT.bin OUT.h5   # the file a fuzz input describes
#include <cstdio>
#include <filesystem>
#include <string>

#include "checkpoint_identity.hpp"
#include "h5_description.hpp"
#include "lloyd/io/hdf5.hpp"

namespace {

using namespace lloyd;

// Checkpoints of the fit checkpoint_identity() names, with lloyd's own writer: one stopped
// mid-way through the second restart, one between the restarts.
void write_checkpoints(const std::string& dir) {
  const Comm comm(MPI_COMM_WORLD);
  FitState<double> state;
  state.restart = 1;
  state.iteration = 2;
  state.centroids = RowMatrix<double>{{-1.0, 0.5, 0.25}, {0.0, -0.5, 1.0}, {1.5, 0.0, -0.75}};
  state.previous_centroids = state.centroids * 0.9;
  state.inertia_history = {80.5, 61.25};
  state.shift_history = {0.5, 0.125};
  state.restart_inertia = {60.0};
  state.has_best = true;
  state.best_centroids = state.centroids * 1.1;
  state.best_inertia = 60.0;
  state.best_n_iter = 3;
  state.best_converged = true;
  state.best_restart = 0;
  state.best_inertia_history = {90.0, 70.0, 60.0};
  state.best_shift_history = {1.0, 0.25, 0.0};
  write_checkpoint(comm, dir + "/mid_restart.h5", state, fuzz::checkpoint_identity());
  state.iteration = 0;
  state.centroids = RowMatrix<double>(0, 3);
  state.previous_centroids = RowMatrix<double>(0, 3);
  state.inertia_history.clear();
  state.shift_history.clear();
  write_checkpoint(comm, dir + "/between_restarts.h5", state, fuzz::checkpoint_identity());
}

}  // namespace

int main(int argc, char** argv) {
  MpiEnvironment environment(argc, argv);
  silence_hdf5_errors();
  const std::string what = argc > 2 ? argv[1] : "";
  if (what == "checkpoint-files") {
    std::filesystem::create_directories(argv[2]);
    write_checkpoints(argv[2]);
    return 0;
  }
  const fuzz::Vocabulary vocabulary = what == "csr"          ? fuzz::csr_vocabulary()
                                      : what == "model"      ? fuzz::model_vocabulary()
                                      : what == "checkpoint" ? fuzz::checkpoint_vocabulary()
                                                             : fuzz::Vocabulary{};
  if (what.starts_with("build-") && argc == 4) {
    // The HDF5 file a description stands for: a fuzz finding as a file to test with.
    const std::string target = what.substr(6);
    std::FILE* in = std::fopen(argv[2], "rb");
    std::vector<std::uint8_t> description;
    for (int c; in && (c = std::fgetc(in)) != EOF;) description.push_back(static_cast<std::uint8_t>(c));
    if (in) std::fclose(in);
    fuzz::build_file(description.data(), description.size(),
                     target == "csr" ? fuzz::csr_vocabulary()
                     : target == "model" ? fuzz::model_vocabulary() : fuzz::checkpoint_vocabulary(),
                     argv[3]);
    return 0;
  }
  if (vocabulary.datasets.empty() || argc < 4) {
    std::fprintf(stderr,
                 "usage: make_fuzz_seeds csr|model|checkpoint OUTDIR FILE...   (descriptions of files)\n"
                 "       make_fuzz_seeds build-csr|build-model|build-checkpoint DESCRIPTION OUT.h5\n"
                 "       make_fuzz_seeds checkpoint-files DIR\n");
    return 2;
  }
  std::filesystem::create_directories(argv[2]);
  for (int i = 3; i < argc; ++i) {
    const std::vector<std::uint8_t> description = fuzz::describe_file(argv[i], vocabulary);
    const std::string out = std::string(argv[2]) + "/" + std::filesystem::path(argv[i]).stem().string() + ".bin";
    std::FILE* file = std::fopen(out.c_str(), "wb");
    if (!file || std::fwrite(description.data(), 1, description.size(), file) != description.size() ||
        std::fclose(file) != 0) {
      std::fprintf(stderr, "make_fuzz_seeds: cannot write %s\n", out.c_str());
      return 1;
    }
    std::printf("%s: %zu bytes\n", out.c_str(), description.size());
  }
  return 0;
}
