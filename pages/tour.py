"""Guided tour: the whole cascade on the current image, one step at a time."""

from ui.views import page, tour

page.run_page(
    "Guided tour", tour.render, "From the photo to the faces in seven steps, on your own image. Made for a projector."
)
