"""Contextual bilateral (CoBi) loss on VGG-19 features (Zhang et al. 2019; paper Eq. 7, last term)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torchvision
from torch import nn

from losses.vgg import IMAGENET_MEAN, IMAGENET_STD, load_vgg_features, tapped_features
from ops.checks import check_image, check_same_shape, check_shape
from ops.precision import full_precision

#: Index of each ReLU output in ``torchvision.models.vgg19().features``.
VGG19_LAYERS = {"relu1_2": 3, "relu2_2": 8, "relu3_4": 17, "relu4_4": 26, "relu5_4": 35}


class VGG19Features(nn.Module):
    """Frozen VGG-19 feature extractor returning the requested ReLU outputs of a [0, 1] RGB image.

    Pretrained weights cannot be downloaded here: pass the path of a local state dict of
    ``torchvision.models.vgg19`` (e.g. torchvision's ``vgg19-dcbb9e9d.pth``; only its ``features.*``
    entries are used).

    Example:
        >>> import torch
        >>> vgg = VGG19Features("vgg19-dcbb9e9d.pth")  # a local copy of torchvision's weights  # doctest: +SKIP
        >>> [tuple(f.shape) for f in vgg(torch.rand(1, 3, 64, 64))]  # doctest: +SKIP
        [(1, 256, 16, 16), (1, 512, 8, 8)]
        >>> VGG19Features(None, ["conv9_9"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: unknown VGG-19 layers ['conv9_9']; choose from ['relu1_2', 'relu2_2', ...]
    """

    def __init__(self, weights_path: str | Path | None, layers: Sequence[str] = ("relu3_4", "relu4_4")) -> None:
        super().__init__()
        if len(layers) == 0:
            raise ValueError("layers must not be empty")
        unknown = [name for name in layers if name not in VGG19_LAYERS]
        if unknown:
            raise ValueError(f"unknown VGG-19 layers {unknown}; choose from {list(VGG19_LAYERS)}")
        self.taps = {VGG19_LAYERS[name] for name in layers}
        with torch.device("meta"):
            body = torchvision.models.vgg19(weights=None).features[: max(self.taps) + 1]
        load_vgg_features(body, weights_path, "vgg19", "vgg19-dcbb9e9d.pth", "pass its path as weights_path.")
        self.body = body.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Features of ``image`` ``(B, 3, H, W)`` in [0, 1], in VGG order."""
        check_shape(image, ["B", "3", "H", "W"])
        return tapped_features(self.body, (image - self.mean) / self.std, self.taps)[1]


def _contextual_similarity(distance: torch.Tensor, bandwidth: float, eps: float) -> torch.Tensor:
    """Contextual similarity ``CX_ij`` from distances ``(B, N, M)``, normalised over ``j``.

    ``d~_ij = d_ij / (min_k d_ik + eps)``, ``w_ij = exp((1 - d~_ij) / h)``, ``CX_ij = w_ij / sum_k w_ik``.
    """
    relative = distance / (distance.amin(dim=-1, keepdim=True) + eps)
    return torch.softmax(-relative / bandwidth, dim=-1)


@full_precision
def contextual_bilateral_loss(
    pred_features: torch.Tensor,
    target_features: torch.Tensor,
    spatial_weight: float = 0.1,
    bandwidth: float = 0.5,
    eps: float = 1e-5,
) -> torch.Tensor:
    """CoBi loss between feature maps ``(B, C, H, W)`` (Zhang et al. 2019, paper Eq. 7 last term).

    Feature distance: cosine distance of the features centred on the target's mean; spatial distance:
    squared distance of normalised pixel coordinates. Each is turned into a contextual similarity
    (bandwidth ``h``), they are mixed as ``(1 - ws) CX_feat + ws CX_sp``, and the loss is
    ``-log(mean_j max_i CX_ij)`` averaged over the batch (``i`` prediction, ``j`` target features).
    This is the formulation of Zhang et al.'s and the authors' code; the paper writes it as the mean
    of ``min_k (D + ws D')``. The paper sets ``ws = 0.1``, ``h = 0.5``; the authors' code effectively
    runs ``ws = 0.5``, ``h = 0.5``. Distances are computed in float32 inside autocast (bf16 features cast up).

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> features = torch.randn(1, 16, 8, 8)
        >>> abs(float(contextual_bilateral_loss(features, features))) < 1e-3
        True
        >>> round(float(contextual_bilateral_loss(features, torch.randn(1, 16, 8, 8))), 2)
        1.86
    """
    check_image(pred_features, "pred_features")
    check_image(target_features, "target_features")
    check_shape(pred_features, ["B", "C", "H", "W"])
    check_same_shape(pred_features, target_features)
    if not 0 <= spatial_weight <= 1:
        raise ValueError(f"spatial_weight must be in [0, 1], got {spatial_weight}")
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    h, w = pred_features.shape[-2:]
    centre = target_features.mean(dim=(0, 2, 3), keepdim=True)
    pred = nn.functional.normalize((pred_features - centre).flatten(2), dim=1)
    target = nn.functional.normalize((target_features - centre).flatten(2), dim=1)
    feature_distance = (1 - pred.transpose(1, 2) @ target).clamp_min(0)
    rows = torch.linspace(0, 1, h, device=pred.device, dtype=pred.dtype)
    cols = torch.linspace(0, 1, w, device=pred.device, dtype=pred.dtype)
    grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1).reshape(1, h * w, 2)
    spatial_distance = torch.cdist(grid, grid).square()
    similarity = (1 - spatial_weight) * _contextual_similarity(feature_distance, bandwidth, eps)
    similarity = similarity + spatial_weight * _contextual_similarity(spatial_distance, bandwidth, eps)
    return -torch.log(similarity.amax(dim=1).mean(dim=1) + eps).mean()


class CoBiLoss(nn.Module):
    """CoBi loss of images summed over VGG-19 layers (paper: relu3_4 and relu4_4).

    Args:
        weights_path: local VGG-19 state dict (see :class:`VGG19Features`); unused with ``features``.
        layers: VGG-19 layers to compare.
        spatial_weight: ``ws`` (paper 0.1).
        bandwidth: ``h`` (paper 0.5).
        features: optional feature extractor ``image -> list of (B, C, H, W)`` replacing VGG-19 (tests).

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> image = torch.rand(2, 3, 16, 16)
        >>> loss = CoBiLoss("vgg19-dcbb9e9d.pth")  # the paper's loss, on local VGG-19 weights  # doctest: +SKIP
        >>> class Pixels(torch.nn.Module):  # any extractor returning a list of feature maps
        ...     def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        ...         return [image]
        >>> loss = CoBiLoss(features=Pixels())
        >>> round(float(loss(image, image.roll(4, dims=-1))), 2)  # a shifted image: a small loss
        0.11
    """

    def __init__(
        self,
        weights_path: str | Path | None = None,
        layers: Sequence[str] = ("relu3_4", "relu4_4"),
        spatial_weight: float = 0.1,
        bandwidth: float = 0.5,
        features: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.features = features if features is not None else VGG19Features(weights_path, layers)
        self.spatial_weight, self.bandwidth = spatial_weight, bandwidth

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss between ``(*, 3, H, W)`` images in [0, 1] of the same shape."""
        check_image(pred, "pred")
        check_image(target, "target")
        check_same_shape(pred, target)
        if pred.dim() < 4:
            raise ValueError(f"images must be (*, 3, H, W), got {tuple(pred.shape)}")
        pred_features = self.features(pred.flatten(0, -4))
        with torch.no_grad():
            target_features = self.features(target.flatten(0, -4))
        return sum(
            contextual_bilateral_loss(p, t, self.spatial_weight, self.bandwidth)
            for p, t in zip(pred_features, target_features, strict=True)
        )
