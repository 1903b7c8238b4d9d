#!/usr/bin/env bash
# Installs the Debian packages lloyd needs, only when some are missing.
#   scripts/install-deps.sh            what the build needs
#   scripts/install-deps.sh --test     also what the tests need: a local Slurm (slurm-wlm,
#                                      munge), matplotlib and h5py for the plot scripts,
#                                      clang with libFuzzer and OpenMP for the fuzz targets, and
#                                      the Python package's build and tests (pybind11, scipy,
#                                      scikit-learn, mpi4py, pytest)
#   scripts/install-deps.sh --python-package
#                                      what `import lloyd` needs (python/; pip install ./python)
#   scripts/install-deps.sh --blas     also a BLAS to build with (cmake -DLLOYD_BLAS=ON: OpenBLAS)
#   scripts/install-deps.sh --python   also scikit-learn, h5py, matplotlib and OpenBLAS
#                                      (fixtures, benchmarks, plots), and R with the
#                                      cluster package (clusGap reference of the gap fixture)
set -euo pipefail

packages=(build-essential cmake pkg-config
          libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
          libeigen3-dev libboost-program-options-dev libicu-dev googletest libgtest-dev)
for group in "$@"; do
  case "$group" in
    --test) packages+=(slurm-wlm munge python3-numpy python3-matplotlib python3-h5py
                       clang libfuzzer-14-dev libomp-dev
                       python3-dev pybind11-dev python3-scipy python3-sklearn python3-mpi4py
                       python3-pytest python3-venv libopenblas0-pthread) ;;
    --python-package) packages+=(python3-dev pybind11-dev python3-numpy python3-scipy python3-sklearn
                                 python3-mpi4py python3-pip python3-venv) ;;
    --blas) packages+=(libblas-dev libopenblas0-pthread) ;;
    --python) packages+=(python3-numpy python3-h5py python3-sklearn python3-matplotlib
                         libopenblas0-pthread r-base-core r-cran-cluster) ;;
    *) echo "install-deps: unknown option $group" >&2; exit 2 ;;
  esac
done

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if (( ${#missing[@]} == 0 )); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
