"""pyramid page (placeholder)."""
import streamlit as st

from ui import page

page.run_page("pyramid", lambda run: st.info("Coming soon."))
