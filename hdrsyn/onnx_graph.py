"""A model's network (a checkpoint's stop-up / stop-down generators) as one ONNX graph, for ONNX Runtime
(the library of ``hdrsyn export``, :mod:`hdrsyn.cli.export_onnx`).

The graph maps ``ldr`` ``(B, 3, H, W)`` float32 in [0, 1] (H and W multiples of the model's
``size_multiple``, stored in the model's metadata; reflect-pad other sizes) to ``exposures``
``(B, N, 3, H, W)`` at the EVs of the metadata (``radiance`` ``(B, 3, H, W)`` for models that predict it).
Batch, H and W are dynamic. The Canny detector inside the generator exports with its hysteresis as an
ONNX ``Loop`` (kornia scripts that loop when traced), so edges are exact for any input. The CRF solve
and merge are not part of the graph; run them on the exposures with times ``2**ev``.

TorchScript-based exporter (``dynamo=False``): the ``torch.export`` exporter also produces a correct graph
but takes minutes for the generator's six recursions.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from hdrsyn.io import atomic_write
from hdrsyn.model_registry import Reconstructor

OPSET = 18


def _require(module: str):
    try:
        return __import__(module)
    except ImportError as error:
        raise RuntimeError(f"hdrsyn export needs the {module!r} package: pip install onnx onnxruntime") from error


def example_input(size: int, multiple: int) -> torch.Tensor:
    """A deterministic ``(1, 3, size, size)`` image with edges and gradients to trace with."""
    if size <= 0 or size % multiple:
        raise ValueError(f"size={size} must be a positive multiple of {multiple} (the model's size multiple)")
    generator = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0, 1, size)
    base = torch.stack([ramp[None, :].expand(size, size), ramp[:, None].expand(size, size),
                        (ramp[None, :] + ramp[:, None]) / 2])
    return (0.7 * base + 0.3 * torch.rand(3, size, size, generator=generator))[None]


def export_onnx(model: Reconstructor, path: str | Path, size: int = 256) -> None:
    """Atomically write ``model.network`` as ONNX to ``path``, traced at ``size x size``, with its metadata."""
    onnx = _require("onnx")
    network = model.network.cpu().eval()
    output = "exposures" if model.output == "stack" else "radiance"
    spatial = {0: "batch", -2: "height", -1: "width"}
    spatial = {axis % (5 if model.output == "stack" else 4): name for axis, name in spatial.items()}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # constants (kernel sizes, channel counts)
        warnings.filterwarnings("ignore", message=".*'instance_norm' is set to train=True")  # it is instance norm
        warnings.filterwarnings("ignore", message="Constant folding")
        torch.onnx.export(
            network, (example_input(size, model.size_multiple),), buffer, dynamo=False, opset_version=OPSET,
            input_names=["ldr"], output_names=[output],
            dynamic_axes={"ldr": {0: "batch", 2: "height", 3: "width"}, output: spatial},
        )
    proto = onnx.load_from_string(buffer.getvalue())
    metadata = {
        "class_path": model.class_path, "output": model.output, "size_multiple": str(model.size_multiple),
        "evs": ",".join(f"{ev:g}" for ev in model.evs), "crf_sampling": model.sampling,
        "crf_smoothness": f"{model.smoothness:g}",
    }
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto)
    atomic_write(Path(path), lambda tmp: onnx.save(proto, str(tmp)))


def compare_onnx(path: str | Path, model: Reconstructor, ldr: torch.Tensor) -> float:
    """Largest absolute difference between ONNX Runtime (CPU) and PyTorch on ``ldr`` ``(B, 3, H, W)``."""
    ort = _require("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (ours,) = session.run(None, {"ldr": ldr.cpu().numpy().astype(np.float32)})
    with torch.inference_mode():
        theirs = model.network.cpu()(ldr.cpu()).numpy()
    if ours.shape != theirs.shape:
        raise RuntimeError(f"{path}: ONNX output {ours.shape} differs from PyTorch's {theirs.shape}")
    return float(np.abs(ours - theirs).max())

