"""Dataset: browse a batch run's summary.csv and open any image on the C++ vs Python page."""

from ui.views import dataset_view

dataset_view.render()
