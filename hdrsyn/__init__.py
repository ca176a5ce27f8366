"""hdrsyn: single-image HDR reconstruction by differentiable multi-exposure stack synthesis."""

__version__ = "0.1.0"
