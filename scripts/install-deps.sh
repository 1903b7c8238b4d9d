#!/usr/bin/env bash
# Installs the Debian packages lloyd needs, only when some are missing.
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --python   also scikit-learn, h5py, matplotlib and OpenBLAS
#                                      (fixtures, benchmarks, plots)
set -euo pipefail

packages=(build-essential cmake pkg-config
          libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
          libeigen3-dev libboost-program-options-dev googletest libgtest-dev)
if [[ "${1:-}" == "--python" ]]; then
  packages+=(python3-numpy python3-h5py python3-sklearn python3-matplotlib libopenblas0-pthread)
fi

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
