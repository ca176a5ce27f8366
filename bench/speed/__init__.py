"""Speed benchmarks: seconds, throughput (GFLOP/s, samples/s) and peak memory, each printed next to a
reference timed in the same run (OpenCV, a plain 64 -> 64 3x3 conv, another stage) so that a slow spell
of the machine does not move the ratios. Run from the repository root, e.g. ``python -m
bench.speed.hdr_synthesis``, ``python -m bench.speed.stages --throughput``, ``python -m
bench.speed.reconstruct``, ``python -m bench.speed.data`` and the GPU device check ``python -m
bench.speed.device_check`` (its checks in :mod:`bench.speed.device_cases`; ``bench/runners/device_check.sh``
runs it under a time limit). Those that measure memory run each configuration in a fresh process
(:func:`bench.memory.in_fresh_process`).
"""
