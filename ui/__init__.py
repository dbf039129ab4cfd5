"""UI helpers for MTCNN Lens: pure figure/table builders plus thin Streamlit glue (state, cache, sidebar)."""
