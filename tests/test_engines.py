"""Exactness must not depend on the host: the default engine in fresh processes under different
OpenBLAS kernels and thread counts, and without numba (the numpy reference fallback)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, needs_shared, reference_cases

SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "no-numba":
    sys.modules["numba"] = None          # `import numba` now raises ImportError
import mtcnn_core as mc
from mtcnn_core import engine_info, kernels
threads = int(sys.argv[3])
out = {"core": engine_info.openblas_core(), "compiled_error": kernels.COMPILED_ERROR,
       "report": mc.engine_report(), "cases": []}
for js, img in zip(sys.argv[4::2], sys.argv[5::2]):
    ref = mc.Trace.load(js)
    p = ref.params
    build = "avx2" if "cpp_haswell" in js else "avx512"
    t = mc.detect(mc.load_image(img), min_face_size=p["min_face_size"], t1=p["t1"], t2=p["t2"],
                  t3=p["t3"], cpp_build=build, threads=threads)
    r = mc.compare(ref, t)
    heat = all(v == 0 for v in r.heatmap_max_abs.values())
    out["cases"].append({"case": js, "bit_identical": r.bit_identical and heat,
                         "first": r.first_not_identical, "producer": t.producer})
print(json.dumps(out))
"""


def run_fresh(cases, core=None, threads=1, mode="normal") -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    if core:
        env["OPENBLAS_CORETYPE"] = core
    args = [str(ROOT), mode, str(threads)] + [str(p) for c in cases for p in c.values]
    r = subprocess.run([sys.executable, "-c", SCRIPT, *args], env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def has_avx512() -> bool:
    try:
        return "avx512f" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@needs_shared
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("core", ["Haswell", "SkylakeX"])
def test_default_engine_bit_identical_under_any_blas_kernel_and_thread_count(core, threads):
    if core == "SkylakeX" and not has_avx512():
        pytest.skip("SkylakeX kernels need AVX-512")
    cases = reference_cases("avx512")
    out = run_fresh(cases, core, threads)
    assert out["core"] in (None, core)
    assert out["compiled_error"] is None
    assert len(out["cases"]) == len(cases)
    bad = [c for c in out["cases"] if not c["bit_identical"]]
    assert not bad, bad
    assert all("kernels=compiled" in c["producer"] for c in out["cases"])


def test_without_numba_the_numpy_reference_gives_the_same_bits_and_says_so():
    cases = [
        c for c in reference_cases("avx512") + reference_cases("avx2") if str(c.values[0]).endswith("chelsea_cat.json")
    ]
    assert len(cases) == 2
    out = run_fresh(cases, mode="no-numba")
    assert out["compiled_error"] and "numba" in out["compiled_error"]
    assert "WARNING: the compiled kernels are unavailable" in out["report"]
    assert all(c["bit_identical"] for c in out["cases"]), out["cases"]
    assert all("kernels=reference" in c["producer"] for c in out["cases"])


def test_engine_build_and_thread_values_are_validated():
    import mtcnn_core as mc

    img = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(ValueError, match="engine must be one of exact, reference, blas, auto"):
        mc.detect(img, engine="gpu")
    with pytest.raises(ValueError, match="cpp_build must be one of avx512, avx2"):
        mc.detect(img, cpp_build="neon")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be an integer >= 1"):
            mc.detect(img, threads=bad)


def test_engine_report_names_what_runs_each_layer():
    import mtcnn_core as mc

    text = mc.engine_report()
    assert "compiled exact kernels" in text and "avx512" in text
    assert "ONet layer 6" in text and "[(0, 288), (288, 577)]" in text
    assert "16 FMA lanes" in text
    avx2 = mc.engine_report(cpp_build="avx2")
    assert "split into 2 chains" in avx2 and "bias + one FMA chain per K block" in avx2
