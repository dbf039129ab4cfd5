"""cascade page (placeholder)."""
import streamlit as st

from ui import page

page.run_page("cascade", lambda run: st.info("Coming soon."))
