"""OpenBLAS at this CPU's own kernels for the scikit-learn/numpy side of a benchmark.

Import this module before numpy. It drops OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (some
machines set them to an older core, which halves SGEMM), then asks OpenBLAS, in a child
process, which core it detects: on some virtual CPUs the CPUID model is unknown to it and it
falls back to its generic SSE3 kernels ("Prescott": 27 instead of 120 GFLOP/s measured on this
machine's AVX-512 cores). Then it names the core from the CPU's flags instead (SkylakeX for
AVX-512, Haswell for AVX2). CHOSEN says what OpenBLAS will use, for the benchmark's header.
"""
import os
import subprocess
import sys

GENERIC_CORES = {"prescott", "core2", "nehalem", "katmai", "coppermine", "northwood", "penryn", "dunnington"}

for _variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_variable, None)


def _detected_core():
    probe = ("from threadpoolctl import threadpool_info; import numpy; "
             "print(next((p.get('architecture') or '' for p in threadpool_info() "
             "if p.get('internal_api') == 'openblas'), ''))")
    try:
        return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


CHOSEN = _detected_core() or "unknown"
if CHOSEN.lower() in GENERIC_CORES:
    flags = _cpu_flags()
    core = "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else None
    if core:
        os.environ["OPENBLAS_CORETYPE"] = core
        CHOSEN = f"{core} (OpenBLAS detected {CHOSEN}: generic kernels)"
