"""The app says plainly when the compiled kernels are missing, and still detects exactly."""

from mtcnn_core import kernels

from .conftest import new_app


def test_missing_numba_shows_a_warning_and_detection_still_runs(monkeypatch):
    monkeypatch.setattr(kernels, "COMPILED_ERROR", "ModuleNotFoundError: No module named 'numba'")
    monkeypatch.setattr(kernels, "compiled", None)
    at = new_app()
    assert not at.exception
    text = " ".join(w.value for w in at.sidebar.warning)
    assert "compiled kernels are unavailable" in text and "numba" in text
    assert len(at.metric) > 0  # the Detect page still shows its results


def test_with_numba_there_is_no_warning():
    at = new_app()
    assert not at.exception
    assert not any("compiled kernels" in w.value for w in at.sidebar.warning)
