"""Shell runners that train, test and compare whole sets of runs for the reports (``lightning fit`` /
``lightning test`` / ``hdrsyn compare``), run from the repository root as ``bench/runners/<name>.sh``:
``compare_sample.sh`` (the README's table), ``compare_release.sh`` (the baselines at the release budget),
``compare_test_scenes.sh`` (the test scenes), ``ablation_sample.sh`` (the ablation ladder) and
``device_check.sh`` (the GPU check under a time limit). The baselines they train and test are listed once,
in ``baselines.sh``, which each sources.
"""
