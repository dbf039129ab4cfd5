"""The app's box cap (mtcnn_core/box_cap.py): its value, and the warning for a run it cut."""

from __future__ import annotations

#: Boxes the app lets into each NMS (so also into RNet and ONet). The busiest reference photo at
#: its defaults and min face 20 sends ~2,400 boxes into one NMS, so 5000 leaves twice that; at
#: t1=t2=t3=0 on 640x480 at min face 12 it turns 43 s into ~2 s (bench/bench_box_cap.py).
APP_BOX_CAP = 5000


def _stage_name(cut: dict) -> str:
    if cut["stage"] == "pnet_scale":
        return f"the NMS of pyramid level {cut['index']}"
    return "the cross-scale NMS"


def cap_warning(cuts: list[dict]) -> str | None:
    """One warning naming where the cap first cut, what the C++ would have processed, and that
    the CLI is exact; None when nothing was cut."""
    if not cuts:
        return None
    first = cuts[0]
    text = (
        f"Box cap: {first['boxes']:,} boxes reached {_stage_name(first)} (PNet stage); this "
        f"app processed only the {first['processed']:,} highest-scored, where OpenFace's C++ "
        f"would process all {first['boxes']:,}. From this stage on, the results differ from "
        "the C++ (that NMS keeps the first of the boxes the C++ keeps, the rest is missing)."
    )
    if len(cuts) > 1:
        more = ", ".join(f"{_stage_name(c)} ({c['boxes']:,} boxes)" for c in cuts[1:])
        text += f" Also capped: {more}."
    return text + (
        " Raise the thresholds or the min face size to stay exact; the command line "
        "(`mtcnn-lens detect`, `batch`) has no cap and is always exact."
    )
