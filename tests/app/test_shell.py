"""AppTest of the shell and Detect page: defaults, no image, parameter changes and bad uploads."""

import pytest

from tests.app.conftest import BAD_IMAGES, SAMPLES, errors, new_app, no_exception


def test_default_image_and_sidebar():
    at = new_app()
    no_exception(at)
    assert at.session_state["image"]["name"] == "faces_at_scales.png"
    labels = [w.label for w in at.sidebar.number_input] + [w.label for w in at.sidebar.slider]
    assert any("Min face" in lab for lab in labels) and any("t1" in lab for lab in labels)
    assert [w.label for w in at.sidebar.file_uploader]
    faces = {m.label: m.value for m in at.metric}["final"]
    assert int(faces) >= 1
    assert at.image  # annotated image shown


def test_no_image_yet_shows_hint_on_every_page():
    from tests.app.conftest import PAGES

    at = new_app()
    at.session_state["image"] = None
    for page in PAGES:
        at.switch_page(page).run()
        no_exception(at)
        assert any("Choose a sample image" in i.value for i in at.info), page


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_bad_upload_keeps_current_image(name):
    at = new_app()
    before = at.session_state["image"]["sha"]
    at.sidebar.file_uploader[0].set_value((name, BAD_IMAGES[name], "image/png")).run()
    no_exception(at)
    msgs = errors(at)
    assert len(msgs) == 1 and msgs[0].startswith(name), msgs
    assert "\n" not in msgs[0] and "Traceback" not in msgs[0]
    assert at.session_state["image"]["sha"] == before
    assert at.metric  # results still shown


def test_good_upload_replaces_image():
    at = new_app()
    data = (SAMPLES / "astronaut.png").read_bytes()
    at.sidebar.file_uploader[0].set_value(("my astronaut.png", data, "image/png")).run()
    no_exception(at)
    assert at.session_state["image"]["name"] == "my astronaut.png"
    assert not errors(at)


def test_parameter_change_and_the_reset_button():
    at = new_app()
    defaults = dict(min_face_size=60, t1=0.6, t2=0.7, t3=0.7, pyramid_factor=0.709)
    assert {k: at.session_state[k] for k in defaults} == defaults
    metrics = {m.label: m.value for m in at.metric}
    # change every parameter through its widget; the detection follows
    at.sidebar.number_input(key="min_face_size").set_value(20)
    at.sidebar.slider(key="t1").set_value(0.5)
    at.sidebar.slider(key="t2").set_value(0.6)
    at.sidebar.slider(key="t3").set_value(0.8)
    at.sidebar.number_input(key="pyramid_factor").set_value(0.8).run()
    no_exception(at)
    changed = {k: at.session_state[k] for k in defaults}
    assert changed == dict(min_face_size=20, t1=0.5, t2=0.6, t3=0.8, pyramid_factor=0.8)
    assert {m.label: m.value for m in at.metric} != metrics  # the detection follows
    image = at.session_state["image"]["sha"]
    # press the real button
    reset = [b for b in at.sidebar.button if b.label == "Reset to OpenFace defaults"]
    assert len(reset) == 1
    reset[0].click().run()
    no_exception(at)
    assert {k: at.session_state[k] for k in defaults} == defaults
    assert at.sidebar.number_input(key="min_face_size").value == 60
    assert at.sidebar.slider(key="t1").value == 0.6 and at.sidebar.slider(key="t3").value == 0.7
    assert at.sidebar.number_input(key="pyramid_factor").value == 0.709
    assert {m.label: m.value for m in at.metric} == metrics  # the default run again
    assert at.session_state["image"]["sha"] == image  # the other state is kept
