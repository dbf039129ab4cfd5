"""Trace I/O: C++ files load, float32 round trip, heatmap sidecar safety, CSV and JSON errors."""

import io
import json

import numpy as np
import pytest
from conftest import ROOT, reference_cases

import mtcnn_core as mc
from mtcnn_core.trace import Trace, detections_from_csv, detections_to_csv, load_any


def u(a):
    return np.asarray(a, np.float32).view(np.uint32)


@pytest.mark.parametrize("json_path,image_path", reference_cases() + reference_cases("avx2"))
def test_cpp_traces_round_trip_exactly(json_path, image_path, tmp_path):
    t = Trace.load(json_path)
    assert t.producer.startswith("openface-2.2.0-cpp")
    out = tmp_path / "t.json"
    t.save(out, heatmaps=True)
    t2 = Trace.load(out)
    for a, b in [
        (t.detections, t2.detections),
        (t.merged, t2.merged),
        (t.rnet.input, t2.rnet.input),
        (t.rnet.kept, t2.rnet.kept),
        (t.onet.kept, t2.onet.kept),
    ]:
        assert np.array_equal(u(a.boxes), u(b.boxes)) and np.array_equal(u(a.scores), u(b.scores))
    assert np.array_equal(u(t.onet.scores), u(t2.onet.scores))
    for s, s2 in zip(t.scales, t2.scales):
        assert (s.heatmap is None) == (s2.heatmap is None)
        if s.heatmap is not None:
            assert np.array_equal(u(s.heatmap), u(s2.heatmap))


def test_our_trace_round_trips_with_extras(tmp_path):
    # a bundled image with faces, so every stage and the landmarks have values to lose
    t = mc.detect(mc.load_image(ROOT / "sample_images" / "astronaut.png"))
    assert len(t.detections) and len(t.onet.landmarks) and len(t.rnet.input)
    t2 = Trace.from_json(t.to_json())
    for a, b in [
        (t.detections, t2.detections),
        (t.merged, t2.merged),
        (t.rnet.input, t2.rnet.input),
        (t.rnet.kept, t2.rnet.kept),
        (t.onet.input, t2.onet.input),
        (t.onet.kept, t2.onet.kept),
    ]:
        assert np.array_equal(u(a.boxes), u(b.boxes)) and np.array_equal(u(a.scores), u(b.scores))
    for name in ("rnet", "onet"):
        a, b = getattr(t, name), getattr(t2, name)
        assert np.array_equal(u(a.scores), u(b.scores)) and np.array_equal(u(a.corrections), u(b.corrections))
    assert np.array_equal(u(t.onet.landmarks), u(t2.onet.landmarks))
    assert "engine=exact" in t2.producer and "cpp_build=avx512" in t2.producer


def test_float32_values_survive_the_text_round_trip():
    # every float32 bit pattern class the writer meets: shortest decimals must read back exactly
    rng = np.random.default_rng(5)
    vals = np.concatenate(
        [
            rng.standard_normal(3000).astype(np.float32) * 300,
            np.float32([0.1, 1 / 3, 2**-30, 123456.79, -0.0, 0.0, 0.99999994]),
        ]
    )
    back = np.array(json.loads(json.dumps(mc.trace._f32list(vals))), np.float32)
    assert np.array_equal(u(back), u(vals))


def minimal_trace():
    return {
        "format": "mtcnn-trace",
        "version": 1,
        "producer": "x",
        "image": {},
        "params": {},
        "pnet": {
            "scales": [
                {
                    "index": 0,
                    "scale": 0.2,
                    "width": 20,
                    "height": 20,
                    "heatmap_width": 5,
                    "heatmap_height": 5,
                    "num_above_t1": 1,
                    "boxes": [[1, 2, 3, 4, 0.9]],
                    "corrections": [[0, 0, 0, 0]],
                }
            ],
            "merged": {"boxes": [], "corrections": []},
        },
        "rnet": {"input": {"boxes": []}, "scores": [], "corrections": [], "kept": {"boxes": [], "corrections": []}},
        "onet": {"input": {"boxes": []}, "scores": [], "corrections": [], "kept": {"boxes": []}},
        "detections": [[1, 2, 3, 4, 0.99]],
    }


@pytest.mark.parametrize(
    "mutate,msg",
    [
        (lambda d: d.update(format="other"), "format is 'other'"),
        (lambda d: d.update(version=7), "version 7"),
        (lambda d: d.pop("rnet"), "missing 'rnet'"),
        (lambda d: d["detections"].append([1, 2, float("nan"), 4, 1]), "NaN"),
        (lambda d: d["detections"].append([1, 2, -3, 4, 1]), "negative width"),
        (lambda d: d["pnet"]["scales"][0].update(boxes=[[1, 2, 3]]), "5 numbers"),
        (lambda d: d["rnet"].update(scores=[0.5]), "scores"),
    ],
)
def test_malformed_traces_give_clear_errors(mutate, msg):
    d = minimal_trace()
    Trace.from_json(json.dumps(d))
    mutate(d)
    with pytest.raises(mc.TraceFormatError, match=msg):
        Trace.from_json(json.dumps(d))


def test_invalid_json():
    with pytest.raises(mc.TraceFormatError, match="not valid JSON"):
        Trace.from_json("{nope", source="x.json")


def test_heatmap_npz_with_pickled_objects_is_refused():
    t = Trace.from_json(json.dumps(minimal_trace()))
    buf = io.BytesIO()
    np.savez(buf, pnet_prob_0=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(mc.TraceFormatError, match="pickled"):
        mc.trace.attach_heatmaps(t, buf.getvalue())


def test_heatmap_shape_must_agree():
    t = Trace.from_json(json.dumps(minimal_trace()))
    buf = io.BytesIO()
    np.savez(buf, pnet_prob_0=np.zeros((4, 5), np.float32))
    with pytest.raises(mc.TraceFormatError, match="5x5"):
        mc.trace.attach_heatmaps(t, buf.getvalue())
    buf = io.BytesIO()
    np.savez(buf, pnet_prob_0=np.zeros((5, 5), np.float32))
    mc.trace.attach_heatmaps(t, buf.getvalue())
    assert t.scales[0].heatmap.shape == (5, 5)


@pytest.mark.parametrize(
    "text,msg",
    [
        ("a,b\n1,2\n", "line 1"),
        ("x,y,w,h,confidence\n1,2,3,4,0.5\n1,2,3\n", "line 3: expected 5 columns"),
        ("x,y,w,h,confidence\n1,2,3,4,0.5\n1,2,3,four,0.9\n", "line 3: non-numeric"),
    ],
)
def test_csv_errors_name_the_line(text, msg):
    with pytest.raises(mc.TraceFormatError, match=msg):
        detections_from_csv(text)


def test_csv_round_trip_and_minimal_json():
    t = detections_from_csv("x,y,w,h,confidence\n10,20,30,40,0.5\n")
    t2 = load_any(detections_to_csv(t).encode())
    assert np.array_equal(t.detections.boxes, t2.detections.boxes)
    t3 = load_any(b'{"detections": [[1, 2, 3, 4, 0.9]], "image": {"width": 10}}')
    assert not t3.has_stages and len(t3.detections) == 1


def test_load_any_reads_paths_and_their_heatmap_sidecar(tmp_path):
    import shutil

    src = ROOT / "sample_images" / "cpp"
    shutil.copy(src / "astronaut.json", tmp_path / "x_ref.json")  # a name starting with 'x'
    shutil.copy(src / "astronaut.heatmaps.npz", tmp_path / "x_ref.heatmaps.npz")
    for source in (tmp_path / "x_ref.json", str(tmp_path / "x_ref.json")):
        t = load_any(source)
        assert t.has_stages and all(s.heatmap is not None for s in t.scales)
    assert all(s.heatmap is None for s in load_any(tmp_path / "x_ref.json", heatmaps=None).scales)
