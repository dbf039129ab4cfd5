"""models page (placeholder)."""
import streamlit as st

from ui import page

page.run_page("models", lambda run: st.info("Coming soon."))
