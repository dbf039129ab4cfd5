"""Exactness must not depend on the host BLAS: 'auto' under different OpenBLAS kernels."""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SHARED, needs_shared

SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import mtcnn_core as mc
from mtcnn_core import engine, report
out = {"core": report.openblas_core(), "cases": []}
for js, img in zip(sys.argv[2::2], sys.argv[3::2]):
    ref = mc.Trace.load(js)
    p = ref.params
    t = mc.detect(mc.load_image(img), min_face_size=p["min_face_size"], t1=p["t1"], t2=p["t2"], t3=p["t3"])
    r = mc.compare(ref, t)
    out["cases"].append({"case": js, "bit_identical": r.bit_identical, "first": r.first_not_identical})
out["verdicts"] = [{"kind": v.kind, "key": list(map(str, v.key)), "blas": v.blas_exact,
                    "differing": v.differing} for v in engine.known_verdicts()]
print(json.dumps(out))
"""

CASES = [("reference/cpp/portrait_astronaut.json", "reference/images/portrait_astronaut.png"),
         ("reference/cpp/occluded_phone_call__mfs20.json", "reference/images/occluded_phone_call.jpg"),
         ("sample_images/cpp/faces_at_scales.json", "sample_images/faces_at_scales.png")]


def run_with_core(core: str) -> dict:
    env = dict(os.environ, OPENBLAS_CORETYPE=core, OPENBLAS_NUM_THREADS="1")
    args = [str(ROOT)] + [str(SHARED / p) for case in CASES for p in case]
    r = subprocess.run([sys.executable, "-c", SCRIPT, *args], env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def has_avx512() -> bool:
    try:
        return "avx512f" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


x86 = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="OpenBLAS x86-64 kernels")


@needs_shared
@x86
def test_haswell_blas_is_replaced_by_exact_kernels_and_stays_bit_identical():
    out = run_with_core("Haswell")
    assert out["core"] in (None, "Haswell")
    conv = [v for v in out["verdicts"] if v["kind"] == "conv"]
    assert any(not v["blas"] and v["differing"] > 0 for v in conv), out["verdicts"]
    assert all(c["bit_identical"] for c in out["cases"]), out["cases"]


@needs_shared
@x86
@pytest.mark.skipif(not has_avx512(), reason="SkylakeX kernels need AVX-512")
def test_skylakex_blas_is_used_where_chain_exact_and_gives_the_same_bits():
    out = run_with_core("SkylakeX")
    conv = [v for v in out["verdicts"] if v["kind"] == "conv"]
    assert conv and all(v["blas"] for v in conv), out["verdicts"]
    assert all(c["bit_identical"] for c in out["cases"]), out["cases"]


def test_engine_names_are_validated():
    import numpy as np
    import mtcnn_core as mc
    with pytest.raises(ValueError, match="engine must be one of auto, exact, blas"):
        mc.detect(np.zeros((100, 100, 3), np.uint8), engine="gpu")


@needs_shared
def test_engine_report_lists_every_layer():
    import mtcnn_core as mc
    text = mc.engine_report()
    assert "host BLAS" in text
    for net in ("PNet layer 0", "RNet layer 8", "ONet layer 6"):
        assert net in text
