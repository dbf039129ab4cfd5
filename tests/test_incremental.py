"""Incremental recomputation: a run that reuses cached stages gives the same Trace, bit for bit,
as a run that computes everything, for a sweep of parameter changes on every reference case of
both OpenFace builds; the cache stays within its byte budget and keys on content."""

import dataclasses

import numpy as np
import pytest
from conftest import reference_cases

import mtcnn_core as mc
from mtcnn_core.stage_cache import StageCache

_images = {}


def image(path):
    if path not in _images:
        _images[path] = mc.load_image(path)
    return _images[path]


def assert_same_trace(a, b, where="trace"):
    """Every field equal; arrays equal in dtype, shape and bytes (timings excepted)."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            if f.name != "timing_ms":
                assert_same_trace(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), where
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_trace(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def sweep(p):
    """The case's parameters after a sequence of single changes a user makes in the app."""
    base = {k: p[k] for k in ("min_face_size", "t1", "t2", "t3", "pyramid_factor")}
    lower = lambda t, d: round(max(t - d, 0.0), 4)  # noqa: E731
    return [
        dict(base, t1=lower(base["t1"], 0.1)),
        dict(base, t1=lower(base["t1"], 0.1), t2=lower(base["t2"], 0.2)),
        dict(base, t1=lower(base["t1"], 0.1), t2=lower(base["t2"], 0.2), t3=lower(base["t3"], 0.3)),
        dict(base, t3=lower(base["t3"], 0.3)),
        dict(base, min_face_size=base["min_face_size"] + 7),
        base,
    ]


@pytest.mark.parametrize("json_path,image_path", reference_cases("avx512") + reference_cases("avx2"))
def test_threshold_sweep_reuses_stages_bit_identically(json_path, image_path):
    ref = mc.Trace.load(json_path)
    build = "avx2" if "cpp_haswell" in str(json_path) else "avx512"
    img, cache = image(image_path), StageCache(64 * 2**20)
    for params in sweep(ref.params):
        warm = mc.detect(img, cpp_build=build, cache=cache, **params)
        cold = mc.detect(img, cpp_build=build, cache=False, **params)
        assert_same_trace(cold, warm)
    assert cache.hits > 0
    rep = mc.compare(ref, warm)  # the last step is back at the C++ run's own parameters
    assert rep.bit_identical, rep.format()


def counting_models():
    """The bundled models with each network's forward pass counted (calls per network name)."""
    models, calls = mc.load_models(), {}
    for net in (models.pnet, models.rnet, models.onet):

        def counted(x, *a, _net=net, _f=net.forward_planar, **k):
            calls[_net.name] = calls.get(_net.name, 0) + 1
            return _f(x, *a, **k)

        net.forward_planar = counted
    return models, calls


def test_a_threshold_change_runs_only_what_it_changes():
    img = image(reference_cases("avx512")[0].values[1])
    models, calls = counting_models()
    try:
        cache = StageCache(64 * 2**20)
        mc.detect(img, models=models, cache=cache)
        assert calls["PNet"] > 0 and calls["RNet"] > 0
        for change in ({"t3": 0.5}, {"t2": 0.75}, {"t2": 0.75, "t3": 0.8}):
            calls.clear()
            mc.detect(img, models=models, cache=cache, **change)
            assert calls == {}, change  # higher t2/t3: every box's output is cached
        calls.clear()
        mc.detect(img, models=models, cache=cache, t1=0.5)
        assert "PNet" not in calls  # the maps do not depend on t1
        calls.clear()
        mc.detect(img, models=models, cache=cache, t1=0.5)
        assert calls == {}
    finally:
        for net in (models.pnet, models.rnet, models.onet):
            del net.forward_planar


def test_budget_bounds_memory_and_evicts_oldest():
    cache = StageCache(4096)
    for i in range(100):
        cache.put(("k", i), np.zeros(64, np.float32))
    s = cache.stats()
    assert s["bytes"] <= 4096 and 0 < s["entries"] < 100
    assert cache.get(("k", 0)) is None and cache.get(("k", 99)) is not None


def test_cached_arrays_are_read_only_and_keys_use_content():
    img = image(reference_cases("avx512")[0].values[1])
    cache = StageCache(64 * 2**20)
    a = mc.detect(img, cache=cache)
    assert not a.scales[0].heatmap.flags.writeable
    other = img.copy()
    other[0, 0, 0] ^= 1  # one bit of one pixel: a different image, no reuse
    hits = cache.stats()["hits"]
    mc.detect(other, cache=cache)
    assert cache.stats()["hits"] == hits
