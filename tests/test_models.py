"""Bundled models: provenance hashes, byte-exact round trip, index parsing, malformed files."""

import struct

import numpy as np
import pytest

import mtcnn_core as mc
from mtcnn_core.dat_format import parse_dat, read_detector_index, write_dat
from mtcnn_core.models import BUNDLED_DIR, file_sha256


@pytest.mark.parametrize("net", ["PNet", "RNet", "ONet"])
def test_bundled_models_are_openface_2_2_0(net):
    assert file_sha256(BUNDLED_DIR / f"{net}.dat") == mc.OPENFACE_SHA256[net]


@pytest.mark.parametrize("net", ["PNet", "RNet", "ONet"])
def test_writer_round_trips_byte_for_byte(net):
    data = (BUNDLED_DIR / f"{net}.dat").read_bytes()
    assert write_dat(parse_dat(data)) == data


def test_default_models_load_with_expected_layers():
    m = mc.load_models()
    assert [len(m.pnet.layers), len(m.rnet.layers), len(m.onet.layers)] == [8, 11, 14]
    assert all(m.matches_openface.values())
    assert m.onet.shapes()[-1] == (16,)


def test_index_crlf_and_relative_paths(tmp_path):
    for n in ("PNet", "RNet", "ONet"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        (tmp_path / "sub" / f"{n}.dat").write_bytes((BUNDLED_DIR / f"{n}.dat").read_bytes())
    (tmp_path / "MTCNN_detector.txt").write_bytes(
        b"PNet sub/PNet.dat\r\nRNet sub/RNet.dat\r\nONet sub/ONet.dat\r\nOther x.dat\r\n"
    )
    files = read_detector_index(tmp_path / "MTCNN_detector.txt")
    assert files["ONet"].name == "ONet.dat"
    assert mc.load_models(tmp_path).matches_openface == {"PNet": True, "RNet": True, "ONet": True}
    # a folder given as a Path (not only a str) is loaded, not mistaken for a loaded model set
    trace = mc.detect(np.full((80, 80, 3), 128, np.uint8), models=tmp_path)
    assert len(trace.scales) >= 1


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd"])
def test_index_refuses_paths_leaving_the_folder(tmp_path, bad):
    (tmp_path / "MTCNN_detector.txt").write_text(f"PNet {bad}\nRNet R.dat\nONet O.dat\n")
    with pytest.raises(mc.ModelFormatError, match="leaves the model folder"):
        read_detector_index(tmp_path / "MTCNN_detector.txt")


def test_index_naming_missing_file(tmp_path):
    (tmp_path / "MTCNN_detector.txt").write_text("PNet PNet.dat\nRNet RNet.dat\nONet ONet.dat\n")
    with pytest.raises(mc.ModelFormatError, match="does not exist"):
        read_detector_index(tmp_path / "MTCNN_detector.txt")


PNET = (BUNDLED_DIR / "PNet.dat").read_bytes()


def test_truncated_at_every_offset_raises_model_format_error():
    for cut in range(len(PNET)):
        with pytest.raises(mc.ModelFormatError) as e:
            parse_dat(PNET[:cut], "PNet.dat")
        assert "PNet.dat" in str(e.value) and "byte" in str(e.value)


@pytest.mark.parametrize("net", ["RNet", "ONet"])
def test_truncated_big_models_raise(net):
    data = (BUNDLED_DIR / f"{net}.dat").read_bytes()
    for cut in list(range(0, 4000, 7)) + list(range(len(data) - 4000, len(data), 13)):
        with pytest.raises(mc.ModelFormatError):
            parse_dat(data[:cut], net)


def test_trailing_garbage_is_refused():
    with pytest.raises(mc.ModelFormatError, match="trailing garbage"):
        parse_dat(PNET + b"\0\0", "PNet.dat")


def test_unknown_layer_type_names_offset():
    bad = PNET[:4] + struct.pack("<i", 9) + PNET[8:]
    with pytest.raises(mc.ModelFormatError, match=r"at byte 4: unknown layer type 9"):
        parse_dat(bad, "PNet.dat")


def test_wrong_matrix_type_is_refused():
    # first conv kernel header starts after: n_layers, type, n_in, n_out, 10 biases
    off = 4 + 4 + 8 + 40
    bad = PNET[: off + 8] + struct.pack("<i", 6) + PNET[off + 12 :]
    with pytest.raises(mc.ModelFormatError, match="not CV_32F"):
        parse_dat(bad, "PNet.dat")


def test_absurd_dimensions_fail_fast_without_allocating():
    off = 4 + 4 + 8 + 40
    bad = PNET[:off] + struct.pack("<ii", 2**30, 2**30) + PNET[off + 8 :]
    with pytest.raises(mc.ModelFormatError, match="needs"):
        parse_dat(bad, "PNet.dat")
    huge_layers = struct.pack("<i", 2**30) + PNET[4:]
    with pytest.raises(mc.ModelFormatError, match="layer count"):
        parse_dat(huge_layers, "PNet.dat")


def test_inconsistent_kernel_sizes_are_refused():
    layers = parse_dat(PNET)
    data = bytearray(write_dat(layers))
    off = 4 + 4 + 8 + 40 + (12 + 36) * 5  # 6th kernel header of conv1
    data[off : off + 8] = struct.pack("<ii", 1, 9)
    with pytest.raises(mc.ModelFormatError, match="inconsistent"):
        parse_dat(bytes(data), "PNet.dat")


def test_network_with_wrong_channel_chain_is_refused(tmp_path):
    layers = parse_dat((BUNDLED_DIR / "RNet.dat").read_bytes())
    p = tmp_path / "bad.dat"
    p.write_bytes(write_dat(layers[:2] + layers[3:]))  # drop a pool: 28->48 conv sees 22x22
    from mtcnn_core.network import load_network

    net = load_network("RNet", BUNDLED_DIR / "RNet.dat")
    assert net.describe()[0]["parameters"] == 28 * 27 + 28
    with pytest.raises(mc.ModelFormatError):
        load_network("RNet", p)
    np.testing.assert_equal(net.layers[0].weight.shape, (28, 3, 3, 3))
