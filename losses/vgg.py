"""Local torchvision VGG weights and tapped VGG features: what CoBi's VGG-19 and HDRCNN's VGG16 encoder share.

Pretrained weights cannot be downloaded here: both read a local torchvision state dict, of which only the
``features.*`` entries (the convolutional body) are used.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_vgg_features(body: nn.Sequential, path: str | Path | None, model: str, file_name: str, hint: str) -> None:
    """Copy the ``features.*`` weights of the local torchvision ``model`` (``vgg16``, ``vgg19``) state dict
    ``path`` into ``body`` (only its first ``len(body)`` layers; ``body`` may live on the meta device).
    ``file_name`` (torchvision's name for the file) and ``hint`` (what to do instead) go into the error.

    Raises:
        FileNotFoundError: ``path`` is None or missing; the message says where to get the file and ``hint``.
        ValueError: the file holds no ``features.*`` entries.
    """
    if path is None or not Path(path).is_file():
        raise FileNotFoundError(
            f"{model.upper()} weights not found at {str(path)!r}: they cannot be downloaded here. Copy a "
            f"torchvision {model} state dict (e.g. {file_name} from download.pytorch.org/models/) onto this "
            f"machine; {hint}"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    features = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    if not features:
        raise ValueError(f"{path} holds no 'features.*' entries; is it a torchvision {model} state dict?")
    body.load_state_dict({k: v for k, v in features.items() if int(k.split(".")[0]) < len(body)}, assign=True)


def tapped_features(
    body: nn.Sequential, x: torch.Tensor, taps: Iterable[int]
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run ``body`` on ``x``: its output and the outputs of the layers at indices ``taps``, in order.

    Example:
        >>> body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        >>> out, taps = tapped_features(body, torch.rand(1, 3, 8, 8), {1})
        >>> tuple(out.shape), [tuple(t.shape) for t in taps]
        ((1, 4, 4, 4), [(1, 4, 8, 8)])
    """
    taps = set(taps)
    outputs = []
    for index, layer in enumerate(body):
        x = layer(x)
        if index in taps:
            outputs.append(x)
    return x, outputs
