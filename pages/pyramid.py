"""Pyramid & PNet: step through the image pyramid and see where PNet proposes faces."""

from ui.views import page, pyramid_view

page.run_page(
    "Pyramid & PNet",
    pyramid_view.render,
    "Each level is the image shrunk so a face of a given size fits PNet's 12×12 window.",
)
