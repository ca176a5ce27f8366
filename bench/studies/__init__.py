"""Quality studies: models and references scored on chosen inputs (a real bracketed photograph, the held-out
views through other camera responses and real makers' tone curves, the release judge over all of them
(:mod:`bench.studies.release`), the clipped highlights apart per EV, large renders at a working size, the
spread over seeds, stack PSNR per EV), each printing a markdown table and writing it with ``-o``. Run from
the repository root, e.g. ``python -m bench.studies.real_stack packaged -o reports/release/memorial.md``;
``--help`` lists each one's arguments. The models, inputs and scores they share are in
:mod:`bench.studies.scoring`.
"""
