// lloyd._lloyd: the engine for the Python package (python/lloyd). MPI is initialised when the
// module is imported (unless mpi4py or the program already did) and finalised at exit if this
// module initialised it; a call without a communicator runs on MPI_COMM_SELF, in process.
#include <mpi.h>

#include <cstdlib>

#include "bridge.hpp"
#include "lloyd/error.hpp"
#include "lloyd/simd/level.hpp"

namespace lloyd::python {
void register_models(py::module_& m);
void register_analysis(py::module_& m);
void register_text(py::module_& m);
}  // namespace lloyd::python

namespace py = pybind11;

PYBIND11_MODULE(_lloyd, m) {
  m.doc() = "lloyd's C++ engine (use the lloyd package, not this module)";
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    // Started without a launcher (a notebook, a plain `python script.py`): Open MPI starts as a
    // singleton, one process. Its security plugin then waits seconds for an absent munged, and
    // its network layer probes for fabrics it cannot use alone: the same settings as
    // scripts/env.sh, only where the user set none and no launcher (mpirun, srun) set the job up.
    const bool launched = std::getenv("PMIX_RANK") || std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_RANK");
    if (!launched) {
      setenv("PMIX_MCA_psec", "^munge", 0);
      setenv("OMPI_MCA_pml", "ob1", 0);
    }
    int provided = 0;
    // Python programs may call from several threads (a thread pool of fits): ask for all.
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
    py::module_::import("atexit").attr("register")(py::cpp_function([] {
      int finalised = 0;
      MPI_Finalized(&finalised);
      if (!finalised) MPI_Finalize();
    }));
  }
  // One line, the engine's own: Python sees it as a ValueError (bad input or settings).
  py::register_exception<lloyd::Error>(m, "LloydError", PyExc_ValueError);
  m.def("simd_level", [] { return std::string(lloyd::simd::to_string(lloyd::simd::level())); });
  lloyd::python::register_models(m);
  lloyd::python::register_analysis(m);
  lloyd::python::register_text(m);
}
