"""AppTest of the Dataset page over a real two-image batch run, plus its pure helpers."""

import os

import pytest

from tests.app.conftest import SAMPLES, errors, new_app, no_exception, run_batch_cli
from ui.views import dataset_view

PAGE = "pages/dataset.py"
IMAGES = ("cameraman.png", "chelsea_cat.png")


@pytest.fixture(autouse=True)
def data_root(tmp_path_factory, monkeypatch):
    """The page reads only inside its data roots: here, pytest's temporary folders and samples."""
    roots = [tmp_path_factory.getbasetemp(), SAMPLES]
    monkeypatch.setenv("MTCNN_LENS_DATA_ROOTS", os.pathsep.join(map(str, roots)))


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory):
    """A batch --out folder: two samples compared with their bundled C++ traces."""
    out = tmp_path_factory.mktemp("batch")
    run_batch_cli(*(SAMPLES / n for n in IMAGES), "--cpp", SAMPLES / "cpp", "--out", out)
    return out


def dataset_app(folder=None):
    at = new_app(PAGE)
    if folder is not None:
        at.text_input(key="dataset_dir").set_value(str(folder)).run()
    return at


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_no_folder_prompts():
    at = dataset_app()
    no_exception(at)
    assert not errors(at)
    assert any("batch output folder" in i.value for i in at.info)


def test_folder_shows_table_and_totals(batch_dir):
    at = dataset_app(batch_dir)
    no_exception(at)
    assert not errors(at)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 2
    assert metric(at, "bit-identical") == "2"
    assert metric(at, "diverging") == "0"
    at.text_input(key="dataset_search").set_value("CAT").run()
    assert list(at.dataframe[0].value["file"]) == ["chelsea_cat.png"]
    at.selectbox(key="dataset_status").set_value("diverging").run()
    no_exception(at)
    assert len(at.dataframe[0].value) == 0


def test_bad_folder_gives_one_error(tmp_path):
    for bad in (tmp_path / "nope", tmp_path):
        at = dataset_app(bad)
        no_exception(at)
        assert len(errors(at)) == 1, errors(at)
        assert str(bad) in errors(at)[0]


MALFORMED = {
    "number": (
        ",".join(dataset_view.SUMMARY_FIELDS) + "\n"
        "a.png,1,1,yes,,0.0,0.0,0.0,0.0,1.0,0.0,10.0,\n"
        "b.png,1,1,no,onet.kept,zero,0.0,0.0,0.0,1.0,0.0,10.0,\n",
        "line 3",
    ),
    "header": ("file,faces\na.png,1\n", "line 1"),
    "fields": (",".join(dataset_view.SUMMARY_FIELDS) + "\na.png,1,1\n", "line 2"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_summary_upload_names_the_line(kind):
    text, where = MALFORMED[kind]
    at = dataset_app()
    at.file_uploader(key="dataset_csv").set_value(("summary.csv", text.encode(), "text/csv")).run()
    no_exception(at)
    msgs = errors(at)
    assert len(msgs) == 1 and where in msgs[0] and "summary.csv" in msgs[0], msgs


def test_uploaded_summary_shows_table_only(batch_dir):
    at = dataset_app()
    data = (batch_dir / "summary.csv").read_bytes()
    at.file_uploader(key="dataset_csv").set_value(("summary.csv", data, "text/csv")).run()
    no_exception(at)
    assert not errors(at)
    assert len(at.dataframe[0].value) == 2
    assert not [b for b in at.button if b.key == "dataset_open"]


def test_missing_inputs_are_explained(batch_dir):
    at = dataset_app(batch_dir)
    no_exception(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "not found" in warnings and "--cpp" in warnings
    assert at.button(key="dataset_open").disabled


def test_open_in_compare(batch_dir):
    at = dataset_app(batch_dir)
    at.selectbox(key="dataset_row").set_value("cameraman.png").run()
    at.text_input(key="dataset_images_dir").set_value(str(SAMPLES)).run()
    at.text_input(key="dataset_cpp_dir").set_value(str(SAMPLES / "cpp")).run()
    no_exception(at)
    assert not at.warning, [w.value for w in at.warning]
    at.button(key="dataset_open").click().run()
    no_exception(at)
    assert at.session_state["image"]["name"] == "cameraman.png"
    assert at.session_state["image"]["source"] == "upload"
    assert at.title[0].value == "C++ vs Python"
    assert not errors(at)
    assert any("bit for bit" in s.value for s in at.success)
    assert any("cameraman.json" in c.value for c in at.caption)
    at.switch_page(PAGE).run()  # back: the folder, row and look-up folders are still filled in
    no_exception(at)
    assert at.text_input(key="dataset_dir").value == str(batch_dir)
    assert at.selectbox(key="dataset_row").value == "cameraman.png"
    assert not at.button(key="dataset_open").disabled


def test_filter_and_status_helpers():
    df = dataset_view.parse_summary(
        ",".join(dataset_view.SUMMARY_FIELDS) + "\n"
        "a.png,1,1,yes,,0,0,0,0,1,0,1,\n"
        "b.png,1,1,no,,0.001,0,0,0,1,0,1,\n"
        "c.png,1,2,no,onet.kept,3,0,0,0,0.5,0.1,1,\n"
        "d.png,,,,,,,,,,,,ValueError: bad\n"
        "e.png,,1,,,,,,,,,1,\n"
    )
    assert list(df["status"]) == ["bit-identical", "within tolerance", "diverging", "failed", "no C++"]
    assert dataset_view.totals(df) == {s: 1 for s in dataset_view.STATUSES}
    assert list(dataset_view.filter_rows(df, stages=["onet.kept"])["file"]) == ["c.png"]
    assert dataset_view.divergent_stages(df) == ["onet.kept"]


def test_open_in_compare_keeps_a_custom_model_set(batch_dir):
    """The round trip Dataset -> C++ vs Python keeps the session's uploaded model set."""
    from tests.app.test_sessions import DAT, upload_models

    at = new_app("pages/models.py")
    upload_models(at, [(f"{n}.dat", d) for n, d in DAT.items()])
    custom = at.session_state["model_set"]
    assert custom.startswith("custom ")
    at.switch_page(PAGE).run()
    at.text_input(key="dataset_dir").set_value(str(batch_dir)).run()
    at.selectbox(key="dataset_row").set_value("cameraman.png").run()
    at.text_input(key="dataset_images_dir").set_value(str(SAMPLES)).run()
    at.text_input(key="dataset_cpp_dir").set_value(str(SAMPLES / "cpp")).run()
    at.button(key="dataset_open").click().run()
    no_exception(at)
    assert at.title[0].value == "C++ vs Python"
    assert at.session_state["model_set"] == custom
    assert at.sidebar.selectbox(key="model_set").value == custom
    at.switch_page("pages/detect.py").run()
    assert at.session_state["model_set"] == custom
