"""Figures for the README and the model card: pictures of a model on bundled photos (its stack sheets and
recovered response curves, as ``hdrsyn reconstruct`` draws them). Run from the repository root, e.g.
``python -m bench.figures.model_figure -o reports/release``. The bar charts of the studies are drawn by
:mod:`bench.charts`.
"""
