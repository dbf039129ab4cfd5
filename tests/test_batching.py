"""RNet/ONet run batched (and in chunks of boxes); each box's result must not depend on that."""

import numpy as np
import pytest
from conftest import ROOT

import mtcnn_core as mc
from mtcnn_core import boxes as B
from mtcnn_core import cascade
from mtcnn_core.kernels import arithmetic

SAMPLE = ROOT / "sample_images" / "faces_at_scales.png"


@pytest.fixture(scope="module")
def stage_inputs():
    img = mc.load_image(SAMPLE)
    trace = mc.detect(img, min_face_size=20, t1=0.5)
    return img, trace.rnet.input.boxes, trace.onet.input.boxes


def one_by_one(net, img, squares, size, eng):
    return np.concatenate(
        [net.forward_planar(B.crop_batch(img, squares[i : i + 1], size, planar=True), eng) for i in range(len(squares))]
    )


@pytest.mark.parametrize("name,size", [("rnet", 24), ("onet", 48)])
def test_batched_and_chunked_outputs_equal_one_box_at_a_time(stage_inputs, name, size):
    img, rnet_in, onet_in = stage_inputs
    squares = rnet_in if name == "rnet" else onet_in
    assert len(squares) > cascade.BOX_CHUNK[size]  # more boxes than one chunk: chunks are exercised
    net = getattr(mc.load_models(), name)
    whole = net.forward_planar(B.crop_batch(img, squares, size, planar=True), "exact")
    chunked = cascade._run_net(net, img, squares, size, arithmetic("exact"))
    single = one_by_one(net, img, squares, size, "exact")
    assert chunked.shape == whole.shape == single.shape
    assert np.array_equal(chunked.view(np.uint32), single.view(np.uint32))
    assert np.array_equal(whole.view(np.uint32), single.view(np.uint32))


def test_exact_engine_batches_equal_single_boxes(stage_inputs):
    img, _, onet_in = stage_inputs
    net = mc.load_models().onet
    squares = onet_in[:3]
    batch = net.forward_planar(B.crop_batch(img, squares, 48, planar=True), "exact")
    single = one_by_one(net, img, squares, 48, "exact")
    assert np.array_equal(batch.view(np.uint32), single.view(np.uint32))


def test_planar_crops_of_real_boxes_equal_the_literal_crop(stage_inputs):
    # the layout the networks get (3, size, size, n), box by box against semantics 4.9 literally,
    # on real RNet and ONet inputs (some of them partly outside the image)
    img, rnet_in, onet_in = stage_inputs
    for squares, size in ((rnet_in[:40], 24), (onet_in[:15], 48)):
        planar = B.crop_batch(img, squares, size, planar=True)
        assert planar.shape == (3, size, size, len(squares))
        for i, box in enumerate(squares):
            want = naive_crop(img, box, size)
            assert np.array_equal(planar[..., i].view(np.uint32), want.view(np.uint32)), box


def naive_crop(img, box, size):
    """Semantics 4.9 literally: a zero (h+1) x (w+1) float buffer, the in-image part of columns
    x-1 .. x+w-1 and rows y-1 .. y+h-1 copied in, cv::resize to size x size, normalised."""
    from mtcnn_core.images import cv_resize, planar_input

    x, y, w, h = (int(v) for v in box)
    H, W = img.shape[:2]
    buf = np.zeros((h + 1, w + 1, 3), np.float32)
    for r in range(h + 1):
        for c in range(w + 1):
            yy, xx = y - 1 + r, x - 1 + c
            if 0 <= yy < H and 0 <= xx < W:
                buf[r, c] = img[yy, xx]
    return planar_input(cv_resize(buf, size, size))


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("size", [24, 48])
def test_crop_batch_equals_the_literal_crop_and_resize(size, compiled):
    # both implementations: the compiled kernel (default) and the numpy gather (numba missing)
    img = mc.load_image(SAMPLE)
    H, W = img.shape[:2]
    boxes = np.array(
        [
            [10, 12, 40, 40],
            [0, 0, 23, 23],
            [-15, -9, 30, 30],
            [W - 20, H - 7, 35, 35],
            [W - 1, 5, 11, 11],
            [3, H - 2, 60, 60],
            [50, 40, 5, 5],
            [20, 30, 1, 1],
            [W + 3, 10, 20, 20],
            [-40, -40, 20, 20],
            [100, 80, 97, 97],
        ],
        np.float32,
    )
    got = B.crop_batch(img, boxes, size, compiled_crops=compiled)
    for i, box in enumerate(boxes):
        want = naive_crop(img, box, size)
        assert np.array_equal(got[i].view(np.uint32), want.view(np.uint32)), box
