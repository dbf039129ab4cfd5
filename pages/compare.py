"""compare page (placeholder)."""
import streamlit as st

from ui import page

page.run_page("compare", lambda run: st.info("Coming soon."))
