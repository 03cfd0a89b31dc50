"""Figures for training and evaluation, each saved as a PNG.

Every function draws one figure, saves it at ``path`` (creating the parent folders), closes it
and returns the path. Matplotlib is imported inside each function, with the non-interactive
Agg backend, so ``import nanocnn.plots`` works without it.
"""

from nanocnn.plots.classification import plot_confusion_matrix, plot_misclassified
from nanocnn.plots.learned import plot_feature_maps, plot_filters
from nanocnn.plots.regression import plot_age_scatter, plot_error_by_bucket
from nanocnn.plots.training import plot_history, plot_lr_find, plot_trials

__all__ = [
    "plot_age_scatter",
    "plot_confusion_matrix",
    "plot_error_by_bucket",
    "plot_feature_maps",
    "plot_filters",
    "plot_history",
    "plot_lr_find",
    "plot_misclassified",
    "plot_trials",
]
