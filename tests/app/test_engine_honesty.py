"""The engine shown is what ran (from the trace's producer), with the fix for a faster exact path."""

import dataclasses

import numpy as np

import mtcnn_core as mc
from tests.app.conftest import new_app, no_exception
from ui.figures import stages


def trace_with(producer):
    t = mc.detect(np.zeros((40, 40, 3), np.uint8), min_face_size=20)
    return dataclasses.replace(t, producer=producer)


def test_engine_shown_is_what_the_producer_says_not_what_was_asked():
    t = trace_with("mtcnn_core 0.1.0 (engine=exact, kernels=reference, cpp_build=avx2)")
    assert stages.engine_used(t, "auto") == "exact · reference kernels · avx2 build"
    what, fix = stages.engine_honesty(t, compiled_available=False)
    assert "numpy reference" in what and "fell back" in what
    assert "numba" in fix


def test_reference_engine_chosen_points_to_the_compiled_kernels():
    t = trace_with("mtcnn_core 0.1.0 (engine=reference, kernels=reference, cpp_build=avx512)")
    what, fix = stages.engine_honesty(t, compiled_available=True)
    assert "engine 'reference' chosen" in what and "choose engine 'exact'" in fix


def test_compiled_needs_no_fix_and_blas_says_it_is_not_exact():
    ok = trace_with("mtcnn_core 0.1.0 (engine=exact, kernels=compiled, cpp_build=avx512)")
    assert stages.engine_honesty(ok, True)[1] is None
    blas = trace_with("mtcnn_core 0.1.0 (engine=blas, kernels=blas, cpp_build=avx512)")
    what, fix = stages.engine_honesty(blas, True)
    assert "last bits" in what and "exact" in fix


def test_detect_page_names_the_kernels_that_ran():
    at = new_app()
    no_exception(at)
    text = " ".join(m.value for m in at.markdown)
    assert "Engine that ran:" in text and "compiled kernels" in text
