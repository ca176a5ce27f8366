"""LightningModules: the training stages, the joint model, the baselines and their evaluation.

Layer 5: may import every layer below (``ops``, ``losses``, the ``hdrsyn`` library, ``datamodules``);
never a command-line tool (``hdrsyn.cli``, ``hdrsyn.reconstruct``, ...), which sit on top. A model
registers how its checkpoints reconstruct HDR images (:mod:`hdrsyn.model_registry`) in the module that
defines it.
"""
