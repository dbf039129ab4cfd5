"""Page scaffolding: the error guard every page body runs in, and the shared 'no image' notice."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from .. import core
from ..box_cap_notice import cap_warning
from . import cost_gate, state


def ensure_shell():
    """A deep link (e.g. /cascade) as the first request after a server start makes Streamlit run
    this page file alone, in its legacy `pages/`-folder mode, skipping app.py (no sidebar, no
    state). Switch the process to st.navigation mode, which app.py uses, and rerun this page."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def run_page(title: str, body, caption: str | None = None):
    """Render `body(run)` under a title; input problems become one st.error line, never a traceback."""
    ensure_shell()
    st.title(title)
    if caption:
        st.caption(caption)
    if st.session_state.get("upload_error"):
        st.error(st.session_state.upload_error)
    try:
        run = state.current_run()
        if run is None:
            st.info("Choose a sample image or upload one in the sidebar.")
            return
        for w in run.trace.warnings:
            st.warning(w)
        if cap_warning(run.trace.cap_cuts):
            st.warning(cap_warning(run.trace.cap_cuts), icon=":material/content_cut:")
        body(run)
    except cost_gate.CostConfirmation as e:
        cost_gate.ask(e)
    except core.MTCNNInputError as e:
        st.error(str(e))
    except Exception as e:  # last resort: a short message instead of a traceback
        st.error(f"Unexpected problem ({type(e).__name__}): {str(e)[:300]}")
