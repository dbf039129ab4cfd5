"""The MTCNN Lens app's code behind pages/: `views/` renders with Streamlit, `figures/` builds the
pictures and tables as pure functions (no Streamlit), and the modules here are shared by both:
`core` (the app's one door into mtcnn_core), `samples` (the bundled images) and `data_roots`
(which server folders the app may read)."""
