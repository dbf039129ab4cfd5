"""AppTest of the Activations page plus unit tests of the tiling helpers."""

import numpy as np

from tests.app.conftest import errors, new_app, no_exception
from ui.figures import activations as act


def test_every_network_layer_and_colour_mode():
    at = new_app("pages/activations.py", image="astronaut.png")
    no_exception(at)
    for net in ("PNet", "RNet", "ONet"):
        at.radio(key="act_net").set_value(net).run()
        no_exception(at)
        layers = at.selectbox(key="act_layer").options
        assert len(layers) >= 8, net
        for k in range(len(layers)):
            at.selectbox(key="act_layer").set_value(k).run()
            no_exception(at)
        for mode in act.COLOUR_MODES:
            at.radio(key="act_colour").set_value(mode).run()
            no_exception(at)
        assert not errors(at)
        assert any("Layer" in c.value for c in at.caption)


def test_lut_spans_viridis():
    assert act.LUT.shape == (256, 3)
    assert act.LUT[0].tolist() != act.LUT[-1].tolist()
    assert act.LUT[-1][0] > 200  # viridis ends yellow


def test_normalise_modes():
    maps = np.stack([np.zeros((2, 2)), np.full((2, 2), 4.0)])
    maps[0, 0, 0] = 2.0
    per_map = act.normalise(maps, "per map")
    assert per_map[0].max() == 1.0 and per_map[1].max() == 0.0
    per_layer = act.normalise(maps, "per layer")
    assert per_layer[1, 0, 0] == 1.0 and per_layer[0, 0, 0] == 0.5
    glob = act.normalise(maps, "global", (0.0, 8.0))
    assert glob[1, 0, 0] == 0.5


def test_tile_and_kernels():
    grid = act.tile(np.random.rand(10, 5, 5))
    assert grid.shape == (3 * 6 + 1, 4 * 6 + 1, 3) and grid.dtype == np.uint8
    rgb, cap = act.kernel_grid(np.random.randn(10, 3, 3, 3))
    assert rgb.shape[2] == 3 and "R, G, B" in cap
    _, cap = act.kernel_grid(np.random.randn(16, 10, 3, 3))
    assert "averaged" in cap
    assert act.as_maps(np.zeros((1, 256))).shape == (1, 1, 256)


def test_changing_network_starts_at_layer_0():
    """Regression: PNet layer 7 must not become RNet layer 7 (another layer entirely)."""
    at = new_app("pages/activations.py", image="astronaut.png")
    at.selectbox(key="act_layer").set_value(7).run()
    assert at.selectbox(key="act_layer").value == 7
    at.radio(key="act_net").set_value("RNet").run()
    no_exception(at)
    assert at.selectbox(key="act_layer").value == 0
    assert at.selectbox(key="act_layer").options[0].startswith("0: conv")


def test_colour_bar_and_channel_names_say_what_the_numbers_are():
    import mtcnn_core as mc

    at = new_app("pages/activations.py", image="astronaut.png")
    for net, n_out in (("PNet", 6), ("RNet", 6), ("ONet", 16)):
        at.radio(key="act_net").set_value(net).run()
        last = len(at.selectbox(key="act_layer").options) - 1
        at.selectbox(key="act_layer").set_value(last).run()
        no_exception(at)
        text = " ".join(m.value for m in at.markdown)
        assert "0 = " in text and "face" in text and f"{n_out - 1} = " in text, net
        if net == "ONet":
            assert "landmark" in text
        at.selectbox(key="act_layer").set_value(0).run()
        assert "Output channels" not in " ".join(m.value for m in at.markdown)  # only where meaningful
    # the colour bar's caption gives the numbers of the chosen mode
    at.radio(key="act_net").set_value("PNet").run()
    at.selectbox(key="act_layer").set_value(0).run()
    captions = {}
    for mode in act.COLOUR_MODES:
        at.radio(key="act_colour").set_value(mode).run()
        captions[mode] = [c.value for c in at.caption if c.value.startswith("colour scale")]
        assert len(captions[mode]) == 1, mode
    assert "its own minimum" in captions["per map"][0]
    assert "this layer" in captions["per layer"][0] and "this network" in captions["global"][0]
    assert captions["per layer"][0] != captions["global"][0]
    assert mc is not None


def test_colour_bar_runs_low_to_high():
    bar = act.colour_bar(100, 5)
    assert bar.shape == (5, 100, 3)
    assert bar[0, 0].tolist() == act.LUT[0].tolist() and bar[0, -1].tolist() == act.LUT[-1].tolist()
