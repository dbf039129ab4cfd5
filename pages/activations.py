"""Activations: look inside PNet, RNet and ONet layer by layer on a real input."""

from ui.views import activations_view, page

page.run_page(
    "Activations",
    activations_view.render,
    "What each layer computes for one input: feature maps, kernels and PReLU slopes.",
)
