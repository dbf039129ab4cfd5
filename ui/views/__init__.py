"""Streamlit views: one module per page body, plus the shared sidebar, session state, cached
pipeline and page scaffolding. They render what ui.figures builds; they never recompute detector
logic."""
