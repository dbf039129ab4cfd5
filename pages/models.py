"""Models: the loaded .dat set, its provenance and layers; upload and switch to your own set."""

from ui.views import models_view, page

page.run_page("Models", models_view.render, "OpenFace 2.2's PNet/RNet/ONet in its binary .dat format.")
