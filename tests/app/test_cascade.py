"""AppTest of the Cascade page: every stage renders, boxes can be inspected, state persists."""

from tests.app.conftest import errors, new_app, no_exception
from ui.figures import cascade_model as cm


def test_every_stage_and_a_box_render():
    at = new_app("pages/cascade.py")
    no_exception(at)
    for stage in cm.STAGES:
        at.select_slider(key="cascade_stage").set_value(stage).run()
        no_exception(at)
        assert not errors(at)
        assert stage in at.markdown[0].value
        if at.selectbox(key="cascade_box").options:
            at.selectbox(key="cascade_box").set_value(len(at.selectbox(key="cascade_box").options) - 1).run()
            no_exception(at)


def test_next_button_and_rejection_reasons():
    at = new_app("pages/cascade.py")
    at.button(key="cascade_next").click().run()
    at.button(key="cascade_next").click().run()
    assert at.session_state["cascade_stage"] == "RNet kept"
    fates = at.dataframe[0].value["fate"].tolist()
    assert "below threshold" in fates and any(f.startswith("suppressed by NMS (by #") for f in fates)
    at.switch_page("pages/detect.py").run()
    at.switch_page("pages/cascade.py").run()
    assert at.session_state["cascade_stage"] == "RNet kept"


def test_stage_model_on_cpp_trace():
    from mtcnn_core.trace import Trace
    from tests.app.conftest import SAMPLES

    ref = Trace.load(SAMPLES / "cpp" / "faces_at_scales.json")
    sb = cm.stage_boxes(ref, "RNet kept")
    assert not sb.fates_known and len(sb) == len(ref.rnet.input)
    assert (sb.fate == 1).sum() == (ref.rnet.scores < 0.7).sum()
    arrows = cm.regression_arrows([0, 0, 10, 10], [0.1, 0, -0.1, 0])
    assert arrows[0] == (0, 5, 1.0, 5) and arrows[2] == (10, 5, 9.0, 5)


def correction_rule(box, c, add1):
    """Semantics 4.6 one scalar at a time in float32 (independent of mtcnn_core.boxes)."""
    import numpy as np

    f = np.float32
    X, Y, Wd, Ht = (int(np.rint(float(v))) for v in box)
    Wd, Ht = Wd + add1, Ht + add1
    nx1, ny1 = f(f(X) + f(f(c[0]) * f(Wd))), f(f(Y) + f(f(c[1]) * f(Ht)))
    nx2, ny2 = f(f(X + Wd) + f(f(Wd) * f(c[2]))), f(f(Y + Ht) + f(f(Ht) * f(c[3])))
    return np.array([nx1, ny1, f(nx2 - nx1), f(ny2 - ny1)], f)


def test_regression_target_is_the_cpp_corrected_box():
    """The Cascade page's 'after regression' box is the C++ rule's box (4.6: rne rect, +1 for
    ONet only), and for ONet-kept boxes bit for bit the box the detector kept."""
    import numpy as np

    import mtcnn_core as mc
    from tests.app.conftest import SAMPLES

    trace = mc.detect(mc.load_image(SAMPLES / "astronaut.png"))
    for stage, add1 in (("RNet kept", False), ("ONet kept", True)):
        sb = cm.stage_boxes(trace, stage)
        assert sb.add1 == add1 and len(sb)
        for i in range(len(sb)):
            got = cm.corrected_box(sb.boxes[i], sb.corrections[i], sb.add1)
            want = correction_rule(sb.boxes[i], sb.corrections[i], add1)
            assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (stage, i)
    sb = cm.stage_boxes(trace, "ONet kept")
    for j, i in enumerate(trace.onet.filtered.order):
        want = correction_rule(sb.boxes[i], sb.corrections[i], True)
        assert np.array_equal(want.view(np.uint32), trace.onet.kept.boxes[j].view(np.uint32))


def column_config(at):
    import json

    return json.loads(at.dataframe[0].proto.columns)


def test_table_columns_fit_their_widest_value():
    """Regression: x = 1022.2139 was shown as '022.2139' (auto width clipped the left digits)."""
    import cv2
    import numpy as np

    from tests.app.conftest import SAMPLES
    from ui.views import state

    at = new_app()
    img = cv2.imread(str(SAMPLES / "faces_at_scales.png"))
    wide = np.hstack([img, img[:, ::-1]])  # faces beyond x = 1000
    assert wide.shape[1] > 1100
    big = cv2.imencode(".png", wide)[1].tobytes()
    at.session_state["image"] = state.image_record("wide.png", big, "upload")
    at.switch_page("pages/cascade.py").run()
    no_exception(at)
    assert at.dataframe[0].value["x"].max() >= 1000
    cfg = column_config(at)
    df = at.dataframe[0].value
    px_per_char, padding = 8.5, 16  # glide grid's 14 px font, both cell paddings
    for col in ("x", "y", "w", "h", "score"):
        fmt = cfg[col]["type_config"]["format"]
        widest = max(len(fmt % v) for v in df[col])
        assert cfg[col]["width"] >= widest * px_per_char + padding, (col, widest)
    longest = max(len(t) for t in df["fate"])
    assert cfg["fate"]["width"] >= longest * 7 + padding


def test_selection_is_one_state_highlighted_and_reset_by_an_image_change():
    from tests.app.conftest import SAMPLES
    from ui.views import state

    at = new_app("pages/cascade.py")
    at.select_slider(key="cascade_stage").set_value("RNet input").run()
    n = len(at.selectbox(key="cascade_box").options)
    assert n > 3
    table_before = at.session_state["_cascade_table_version"]
    at.selectbox(key="cascade_box").set_value(3).run()
    no_exception(at)
    assert at.session_state["cascade_box"] == 3
    fig = at.get("plotly_chart")[0].proto.spec
    assert '"inspected #3"' in fig
    # the selector moved: the table is a new widget, so no stale tick marks another box
    assert at.session_state["_cascade_table_version"] != table_before
    at.session_state["image"] = state.image_record("astronaut.png", (SAMPLES / "astronaut.png").read_bytes(), "sample")
    at.run()
    no_exception(at)
    assert at.session_state["cascade_box"] == 0
    assert at.selectbox(key="cascade_box").value == 0
    assert '"inspected #0"' in at.get("plotly_chart")[0].proto.spec
