"""hdrsyn: single-image HDR reconstruction by differentiable multi-exposure stack synthesis.

Layer 3, the library (metrics, image I/O, rendering, the model registry, inference): imports
``ops`` and ``losses``, never ``datamodules`` or ``lightning_modules`` (a checkpoint's class path is
imported by name at load time only, :mod:`hdrsyn.model_registry`). The command-line tools live here
too but sit on top of every layer: the CLI wing :mod:`hdrsyn.cli` (every entry point and ``main()``) and
``__main__``; no library module imports them.
"""

__version__ = "0.1.0"
