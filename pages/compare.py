"""C++ vs Python: compare an OpenFace C++ result with this run, face by face and stage by stage."""

from ui.views import compare_view, page

page.run_page(
    "C++ vs Python",
    compare_view.render,
    "Load the C++ detector's output (or the bundled reference) and see where they differ.",
)
