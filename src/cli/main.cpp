// lloyd: distributed K-Means. This file only dispatches to the subcommands in src/cli/.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>
#include <stdexcept>
#include <string>

#include "common.hpp"
#include "lloyd/io/hdf5.hpp"
#include "lloyd/simd/level.hpp"
#include "lloyd_version.hpp"  // generated at build time (cmake/LloydVersion.cmake)

namespace {

constexpr const char* kUsage =
    "usage: lloyd <command> [options]\n"
    "\n"
    "Distributed K-Means over MPI ranks; every rank reads its own block of rows from HDF5.\n"
    "\n"
    "commands:\n"
    "  fit        cluster a data set and write the model (centroids, labels, history)\n"
    "  predict    label new data with the centroids of a model\n"
    "  generate   write Gaussian blobs (like scikit-learn's make_blobs) for experiments\n"
    "  evaluate   score a labelling: silhouette, Calinski-Harabasz, Davies-Bouldin, ARI, NMI\n"
    "  choose-k   fit K = A..B and recommend K (elbow, silhouette, CH, DB, gap statistic)\n"
    "  tfidf      turn a text corpus into a TF-IDF sparse matrix (CSR in HDF5), in parallel\n"
    "  top-terms  the highest-weight terms and the size of each cluster of a text model\n"
    "  convert    write a .npy, CSV/TSV or HDF5 data set as an HDF5 dataset, once, in parallel\n"
    "\n"
    "'lloyd <command> --help' lists the options of a command with their defaults;\n"
    "'lloyd --version' the release, the commit, and the MPI, HDF5 and SIMD it runs with.\n"
    "Run under MPI, e.g.: mpirun -n 4 lloyd fit --input data.h5:/X --k 8 --output model.h5\n";


// What a bug report from a cluster needs: the build, and the libraries and instruction set
// this run actually got (a module system may load another MPI or HDF5 than the build saw).
std::string version_report() {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(mpi, &length);
  std::string mpi_line(mpi, static_cast<std::size_t>(length));
  mpi_line = mpi_line.substr(0, mpi_line.find_first_of(",\n"));
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  std::string simd;
  try {
    simd = lloyd::simd::to_string(lloyd::simd::level());
  } catch (const std::exception& e) {
    simd = std::string("none (") + e.what() + ")";
  }
  return std::string("lloyd ") + LLOYD_VERSION + " (commit " + LLOYD_GIT_COMMIT + ")\n" + "MPI: " + mpi_line +
         "\nHDF5: " + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release) +
         "\nSIMD kernels: " + simd + " (widest this CPU runs: " +
         lloyd::simd::to_string(lloyd::simd::widest_supported()) + ")\n";
}

int dispatch(const lloyd::Comm& comm, int argc, char** argv) {
  using namespace lloyd::cli;
  const std::string command = argc > 1 ? argv[1] : "";
  if (command.empty() || command == "--help" || command == "-h" || command == "help") {
    if (comm.rank() == 0) std::cout << kUsage;
    return command.empty() ? 2 : 0;
  }
  if (command == "--version" || command == "version") {
    if (comm.rank() == 0) std::cout << version_report();
    return 0;
  }
  const Args args(argv + 2, argv + argc);
  // The SIMD level of the kernels, chosen here so that a bad LLOYD_SIMD (or one a node's CPU
  // lacks) stops every rank with one line before any work.
  lloyd::run_agreed(comm, [] { lloyd::simd::level(); });
  if (command == "fit") return run_fit(comm, args);
  if (command == "predict") return run_predict(comm, args);
  if (command == "generate") return run_generate(comm, args);
  if (command == "evaluate") return run_evaluate(comm, args);
  if (command == "choose-k") return run_choose_k(comm, args);
  if (command == "tfidf") return run_tfidf(comm, args);
  if (command == "top-terms") return run_top_terms(comm, args);
  if (command == "convert") return run_convert(comm, args);
  throw UsageError("lloyd: unknown command '" + command + "' (see 'lloyd --help')");
}

// Ends every rank after a failure that only this rank met (the others may be waiting in a
// collective): lloyd's line is the whole report. Open MPI 4 (ORTE) would add a box, "MPI_ABORT
// was invoked on rank ...", unless its global orte_execute_quiet is set (the MCA parameter of
// that name, which a rank reads only at start-up, so it is set here directly, for this abort
// only). Other MPIs have no such symbol and keep their own notice.
[[noreturn]] void abort_all(const std::string& line) {
  std::cerr << line << std::endl;
  lloyd::remove_partial_outputs();
  if (auto* quiet = static_cast<bool*>(dlsym(RTLD_DEFAULT, "orte_execute_quiet"))) *quiet = true;
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  lloyd::MpiEnvironment environment(argc, argv);
  lloyd::silence_hdf5_errors();
  lloyd::remove_partial_outputs_on_signals();
  int code = 0;
  const std::string command = argc > 1 ? argv[1] : "";
  {
    lloyd::Comm world(MPI_COMM_WORLD);
    try {
      code = dispatch(world, argc, argv);
    } catch (const lloyd::cli::UsageError& e) {
      if (world.rank() == 0) std::cerr << e.what() << std::endl;
      code = 2;
    } catch (const lloyd::AgreedError& e) {
      // Every rank got here together: report once, exit cleanly and non-zero everywhere.
      if (world.rank() == 0) std::cerr << "lloyd: error: " << e.what() << std::endl;
      code = 1;
    } catch (const std::bad_alloc&) {
      // An allocation without a name of its own (the big ones say what they were: see
      // lloyd/out_of_memory.hpp), met by this rank alone.
      abort_all("lloyd " + command + ": out of memory on rank " + std::to_string(world.rank()) +
                " (each rank holds its block of the rows: more ranks or more memory per rank)");
    } catch (const std::length_error&) {
      abort_all("lloyd " + command + ": out of memory on rank " + std::to_string(world.rank()) +
                " (a size too large for any container was asked for)");
    } catch (const std::exception& e) {
      abort_all("lloyd: error on rank " + std::to_string(world.rank()) + ": " + e.what());
    }
  }
  return code;
}
