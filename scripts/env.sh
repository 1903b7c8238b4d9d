# Sourced by the entry-point scripts: MPI settings for this machine.
# Open MPI refuses to run as root unless told that it is intended (containers, CI).
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# With munge installed (slurm-wlm brings it) but munged not running, PMIx's munge security
# plugin retries for ~2 s at every mpirun start; outside Slurm the native plugin does.
if ! pgrep -x munged >/dev/null 2>&1; then
  export PMIX_MCA_psec=${PMIX_MCA_psec:-^munge}
fi
# Open MPI's default point-to-point layer (UCX) probes for network hardware this machine
# does not have: 0.2 s in every MPI_Init. On one node ob1 (shared memory) is what carries the
# messages anyway. A cluster's own setting, where given, is kept.
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1}
LLOYD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LLOYD_BUILD="${LLOYD_BUILD:-$LLOYD_ROOT/build}"
export LLOYD_ROOT LLOYD_BUILD
