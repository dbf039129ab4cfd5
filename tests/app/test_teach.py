"""AppTest of the teaching views: follow one cell, follow one box, occlusion map, guided tour."""

import numpy as np

from tests.app.conftest import errors, new_app, no_exception
from ui.figures import cascade_model as cm
from ui.views import explain_box, explain_cell, tour


def markdown_with(at, text):
    return [m.value for m in at.markdown if text in m.value]


def test_follow_one_cell_on_a_sample():
    at = new_app("pages/pyramid.py", image="astronaut.png")
    no_exception(at)
    assert not errors(at)
    head = markdown_with(at, "### Cell (row")
    assert head and "P(face)" in head[0]
    assert markdown_with(at, "bit-identical ✓")  # conv1 walk-through equals the layer
    at.number_input(key="xc_row").set_value(0).run()
    at.number_input(key="xc_col").set_value(0).run()
    at.number_input(key="xc_conv_ch").set_value(9).run()
    no_exception(at)
    assert markdown_with(at, "### Cell (row 0, col 0)") and markdown_with(at, "bit-identical ✓")
    assert markdown_with(at, "PNet t1")  # the journey is shown
    at.button(key="xc_best").click().run()
    assert markdown_with(at, "≥ t1")


def test_click_target_maps_to_the_cell():
    assert explain_cell.clicked_cell([{"x": 5, "y": 3}], (10, 20)) == (3, 5)
    assert explain_cell.clicked_cell([{"x": 99, "y": 3}], (10, 20)) == (3, 19)
    assert explain_cell.clicked_cell([], (10, 20)) is None
    assert explain_cell.strongest_cell(np.array([[0, 0.2], [0.9, 0.1]], np.float32)) == (1, 0)


def test_follow_one_box_and_occlusion_on_every_stage():
    at = new_app("pages/cascade.py", image="grace_hopper.jpg")
    for stage in cm.STAGES:
        at.select_slider(key="cascade_stage").set_value(stage).run()
        no_exception(at)
        assert not errors(at)
        assert markdown_with(at, "What happened to this") or markdown_with(at, "never reached RNet")
    at.select_slider(key="cascade_stage").set_value("ONet kept").run()
    assert markdown_with(at, "### ONet input #0")
    at.slider(key="occ_patch").set_value(16).run()
    at.slider(key="occ_stride").set_value(8).run()
    no_exception(at)
    cap = [c.value for c in at.caption if c.value.startswith("Without a patch")]
    assert cap and "Largest drop" in cap[0]


def test_final_faces_map_back_to_their_onet_input():
    import mtcnn_core as mc
    from tests.app.conftest import SAMPLES

    trace = mc.detect(mc.load_image(SAMPLES / "faces_at_scales.png"))
    for d in range(len(trace.detections)):
        net, k = explain_box.net_input_of(trace, "final", d)
        assert net == "ONet" and trace.onet.filtered.fate[k] == 0
        assert np.array_equal(mc.boxes.final_fix(trace.onet.kept.boxes[d : d + 1])[0], trace.detections.boxes[d])
    for q, m in enumerate(trace.merged_nms.order):  # NMS output order is RNet's input order
        assert explain_box.net_input_of(trace, "PNet merged", int(m)) == ("RNet", q)
    for m in np.flatnonzero(trace.merged_nms.fate != 0):
        assert explain_box.net_input_of(trace, "PNet merged", int(m))[0] is None


def test_guided_tour_steps_forward_and_back():
    at = new_app("pages/tour.py", image="faces_at_scales.png")
    for k in range(len(tour.TITLES)):
        no_exception(at)
        assert not errors(at)
        assert at.header[0].value == tour.TITLES[k]
        at.button(key="tour_next").click().run()
    assert at.session_state["tour_step"] == len(tour.TITLES) - 1
    at.button(key="tour_back").click().run()
    assert at.session_state["tour_step"] == len(tour.TITLES) - 2
