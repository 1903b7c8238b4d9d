"""pip install ./python — the package `lloyd` with its engine (lloyd._lloyd) built by the
project's CMake. Offline, with Debian's packages (scripts/install-deps.sh --python-package):

    python3 -m venv --system-site-packages ~/lloyd-env
    ~/lloyd-env/bin/pip install --no-build-isolation ./python

LLOYD_BUILD_DIR=build reuses an already configured build tree (only the module is built)
instead of configuring a fresh one.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent.parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        given = os.environ.get("LLOYD_BUILD_DIR")
        build = Path(given).resolve() if given else Path(self.build_temp).resolve() / "cmake"
        if not given:
            subprocess.check_call(["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                                   "-DLLOYD_BUILD_TESTS=OFF", f"-DPython3_EXECUTABLE={sys.executable}"])
        subprocess.check_call(["cmake", "--build", str(build), "--target", "_lloyd", "-j", str(os.cpu_count() or 1)])
        built = sorted((build / "python" / "lloyd").glob("_lloyd*.so"))
        if not built:
            raise RuntimeError(f"the build in {build} made no lloyd/_lloyd module (are python3-dev and pybind11-dev installed?)")
        target = Path(self.get_ext_fullpath(ext.name)).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[0], target)


setup(
    name="lloyd",
    version="0.1.0",
    description="Distributed, exact K-Means (MPI, HDF5) with a scikit-learn interface",
    packages=["lloyd"],
    ext_modules=[CMakeExtension("lloyd._lloyd")],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["numpy", "scipy", "scikit-learn"],
    extras_require={"mpi": ["mpi4py"]},
)
