"""LightningModules: one folder per method, each with its torch model, its loss and its LightningModules
(ours, :mod:`lightning_modules.diffhdrsyn`; each baseline, :mod:`lightning_modules.baselines`), and what
they share: their validation and test (:mod:`.hdr_method`, :mod:`.evaluation`), callbacks, the optimiser.

Layer 5: may import every layer below (``ops``, ``losses``, the ``hdrsyn`` library, ``datamodules``);
never the command-line tools (``hdrsyn.cli`` and its modules), which sit on top. A model
registers how its checkpoints reconstruct HDR images (:mod:`hdrsyn.model_registry`) in the module that
defines it.
"""
