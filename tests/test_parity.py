"""The whole C++ reference set: every stage, heatmaps included, bit-identical to OpenFace 2.2.0."""
import numpy as np
import pytest

import mtcnn_core as mc
from conftest import needs_shared, reference_cases

pytestmark = needs_shared
_images = {}


def run(json_path, image_path, engine):
    ref = mc.Trace.load(json_path)
    if image_path not in _images:
        _images[image_path] = mc.load_image(image_path)
    p = ref.params
    cand = mc.detect(_images[image_path], min_face_size=p["min_face_size"], t1=p["t1"], t2=p["t2"],
                     t3=p["t3"], pyramid_factor=p["pyramid_factor"], engine=engine)
    return ref, cand


@pytest.mark.parametrize("json_path,image_path", reference_cases())
@pytest.mark.parametrize("engine", ["auto", "exact"])
def test_bit_identical_to_cpp(json_path, image_path, engine):
    ref, cand = run(json_path, image_path, engine)
    rep = mc.compare(ref, cand)
    assert rep.bit_identical, rep.format()
    heat = [s.index for s in ref.scales if s.heatmap is not None]
    assert len(rep.heatmap_max_abs) == len(heat)
    assert all(v == 0 for v in rep.heatmap_max_abs.values())


@pytest.mark.parametrize("json_path,image_path", reference_cases())
def test_blas_engine_within_tolerance(json_path, image_path):
    ref, cand = run(json_path, image_path, "blas")
    rep = mc.compare(ref, cand, tol_px=0.01, tol_score=1e-4)
    assert rep.ok, rep.format()


def test_compare_reports_a_divergence():
    cases = reference_cases()
    ref = mc.Trace.load(cases[0].values[0])
    cand = mc.Trace.load(cases[0].values[0])
    cand.rnet.scores = cand.rnet.scores.copy()
    cand.rnet.scores[0] += np.float32(0.01)
    rep = mc.compare(ref, cand)
    assert not rep.ok and rep.first_divergent == "rnet.scores"
    assert rep.stage("pnet.merged").bit_identical
