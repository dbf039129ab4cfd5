"""Before numpy loads: on an AVX-512 CPU, ask OpenBLAS for its SkylakeX kernels if nobody chose one.

Those kernels accumulate each GEMM output in order, so engine='auto' can use the BLAS for more
layer shapes (faster). This is only a speed hint: an explicit OPENBLAS_CORETYPE is respected, and
exactness never depends on it, because 'auto' checks each shape before trusting the BLAS.
Set MTCNN_LENS_NO_CORETYPE=1 to disable.
"""
import os
import sys

_AVX512 = ("avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd")


def _cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def prefer_sequential_blas():
    if "numpy" in sys.modules or "OPENBLAS_CORETYPE" in os.environ or os.environ.get("MTCNN_LENS_NO_CORETYPE"):
        return
    if all(flag in _cpu_flags() for flag in _AVX512):
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"


prefer_sequential_blas()
