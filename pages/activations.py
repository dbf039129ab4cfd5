"""activations page (placeholder)."""
import streamlit as st

from ui import page

page.run_page("activations", lambda run: st.info("Coming soon."))
