"""Cascade: follow the boxes from PNet's merged proposals through RNet and ONet to the final faces."""

from ui.views import cascade_view, page

page.run_page("Cascade", cascade_view.render, "Which boxes each network kept, which it dropped, and why.")
