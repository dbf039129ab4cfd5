"""Detect: the final faces, counts per stage, timing and downloads."""

from ui.views import detect_view, page

page.run_page("Detect", detect_view.render, "OpenFace 2.2's MTCNN (PNet → RNet → ONet) on the current image.")
