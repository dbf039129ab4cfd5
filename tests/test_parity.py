"""The C++ reference runs of both OpenFace builds: every stage, heatmaps included, bit-identical.

With ../shared: 18 images x 2 parameter sets per build; without it, the 5 bundled sample images.
"""

import numpy as np
import pytest
from conftest import reference_cases

import mtcnn_core as mc

_images = {}


def run(json_path, image_path, **kw):
    ref = mc.Trace.load(json_path)
    if image_path not in _images:
        _images[image_path] = mc.load_image(image_path)
    p = ref.params
    cand = mc.detect(
        _images[image_path],
        min_face_size=p["min_face_size"],
        t1=p["t1"],
        t2=p["t2"],
        t3=p["t3"],
        pyramid_factor=p["pyramid_factor"],
        **kw,
    )
    return ref, cand


def assert_bit_identical(ref, cand):
    rep = mc.compare(ref, cand)
    assert rep.bit_identical, rep.format()
    heat = [s.index for s in ref.scales if s.heatmap is not None]
    assert len(rep.heatmap_max_abs) == len(heat)
    assert all(v == 0 for v in rep.heatmap_max_abs.values())


@pytest.mark.parametrize("json_path,image_path", reference_cases("avx512"))
def test_default_engine_bit_identical_to_the_avx512_build(json_path, image_path):
    assert_bit_identical(*run(json_path, image_path))


@pytest.mark.parametrize("json_path,image_path", reference_cases("avx2"))
def test_avx2_build_bit_identical_to_the_haswell_cpp(json_path, image_path):
    ref, cand = run(json_path, image_path, cpp_build="avx2")
    assert cand.params["cpp_build"] == "avx2" and "cpp_build=avx2" in cand.producer
    assert_bit_identical(ref, cand)


SMALL = [
    c
    for c in reference_cases("avx512") + reference_cases("avx2")
    if any(s in str(c.values[0]) for s in ("chelsea_cat.json", "tiny_astronaut_96.json"))
]


@pytest.mark.parametrize("json_path,image_path", SMALL)
def test_numpy_reference_engine_gives_the_same_bits(json_path, image_path):
    build = "avx2" if "cpp_haswell" in str(json_path) else "avx512"
    assert_bit_identical(*run(json_path, image_path, engine="reference", cpp_build=build))


@pytest.mark.parametrize("json_path,image_path", reference_cases("avx512")[::3])
def test_blas_engine_within_tolerance(json_path, image_path):
    ref, cand = run(json_path, image_path, engine="blas")
    rep = mc.compare(ref, cand, tol_px=0.01, tol_score=1e-4)
    assert rep.ok, rep.format()


@pytest.mark.parametrize("build,other", [("avx512", "avx2"), ("avx2", "avx512")])
def test_each_build_differs_from_the_other_builds_traces(build, other):
    # the switch is real: on a case where the two C++ builds differ, each port build matches only
    # its own C++ build's trace
    case = next(c for c in reference_cases(other) if "faces_at_scales.json" in str(c.values[0]))
    ref_other, cand = run(*case.values, cpp_build=build)
    rep = mc.compare(ref_other, cand)
    assert not rep.bit_identical and rep.ok  # last bits only
    assert rep.first_not_identical.startswith("pnet.")


def test_compare_reports_a_divergence():
    cases = reference_cases()
    ref = mc.Trace.load(cases[0].values[0])
    cand = mc.Trace.load(cases[0].values[0])
    cand.rnet.scores = cand.rnet.scores.copy()
    cand.rnet.scores[0] += np.float32(0.01)
    rep = mc.compare(ref, cand)
    assert not rep.ok and rep.first_divergent == "rnet.scores"
    assert rep.stage("pnet.merged").bit_identical
