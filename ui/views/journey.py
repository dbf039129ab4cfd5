"""Render a proposal's journey (mtcnn_core.explain.Step list): one line per filtering step."""

from __future__ import annotations

import streamlit as st

ICONS = {
    "kept": ":green[:material/check_circle:]",
    "below threshold": ":red[:material/cancel:]",
    "suppressed": ":red[:material/cancel:]",
    "not recorded": ":material/help:",
}


def journey_lines(steps) -> list[str]:
    """Markdown lines, one per step, with an icon for its outcome."""
    return [f"{ICONS.get(s.outcome, '•')} **{s.stage}** — {s.text}" for s in steps]


def render(steps, title: str = "What happened to this box"):
    st.markdown(f"**{title}**")
    st.markdown("\n".join(f"{k + 1}. {line}" for k, line in enumerate(journey_lines(steps))))
    last = steps[-1] if steps else None
    if last is not None and last.outcome != "kept":
        st.caption(f"Dropped at: {last.stage}.")
    elif last is not None and last.stage == "final":
        st.caption("It is one of the detector's final faces.")
