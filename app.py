"""MTCNN Lens: a multipage Streamlit app that explains OpenFace 2.2's MTCNN face detector stage by stage.

Run with `streamlit run app.py`. Every page renders one cached Trace of the current image.
"""

import streamlit as st

from ui.views import pipeline, quotas, sidebar, state

st.set_page_config(page_title="MTCNN Lens", page_icon=":material/face:", layout="wide")

PAGES = [
    st.Page("pages/detect.py", title="Detect", icon=":material/center_focus_strong:", default=True),
    st.Page("pages/tour.py", title="Guided tour", icon=":material/school:"),  # teach
    st.Page("pages/pyramid.py", title="Pyramid & PNet", icon=":material/stacks:"),
    st.Page("pages/cascade.py", title="Cascade", icon=":material/filter_alt:"),
    st.Page("pages/activations.py", title="Activations", icon=":material/grid_view:"),
    st.Page("pages/compare.py", title="C++ vs Python", icon=":material/compare:"),
    st.Page("pages/dataset.py", title="Dataset", icon=":material/table_view:"),
    st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
]

state.init_state()
state.keep_page_state()
quotas.enforce()  # before any uploader reads the store: drop what is over the session's quota
# st.navigation must come before the sidebar widgets: with streamlit 1.67 a sidebar file_uploader
# created before it drops the first upload after a server start.
page = st.navigation(PAGES)
sidebar.build_sidebar()
pipeline.kernels_ready()
page.run()
