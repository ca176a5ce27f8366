"""Benchmarks, studies, figures and the shell runners of the reports, run from the repository root as
``python -m bench.<kind>.<name> --help`` (the shell runners as ``bench/runners/<name>.sh``). Four kinds, one
sub-package each: :mod:`bench.speed` (seconds, GFLOP/s, memory), :mod:`bench.studies` (scores and tables
of models, the numbers of docs/ and reports/), :mod:`bench.figures` (the pictures of the README and the
model card) and :mod:`bench.runners` (the shell scripts that train, test and compare; not ``runs``, a name
``.gitignore`` keeps for training outputs). What several of them do alike lives once here:
:mod:`bench.timing` (best-of-N timings, a training-step timer), :mod:`bench.memory` (peak resident and GPU
memory, a measurement in a fresh process), :mod:`bench.tables` (markdown tables and reports) and
:mod:`bench.charts` (bar charts). ``bench`` is not installed with the package: it sits on top of every
layer (``hdrsyn`` tools included) and nothing in the library imports it.
"""
