"""Building blocks shared by the stack-generation U-Nets (paper Sec. 3.2, Fig. 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SwishConv(nn.Sequential):
    """``Conv2d`` ('same' padding) followed by Swish (``x * sigmoid(x)``, i.e. SiLU)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
            nn.SiLU(),
        )


class DoubleSwishConv(nn.Sequential):
    """Two 3x3 :class:`SwishConv` layers, ``in -> out -> out`` (one U-Net level)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(SwishConv(in_channels, out_channels), SwishConv(out_channels, out_channels))


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose backward makes the incoming gradient NCHW-contiguous."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return grad.contiguous()


def contiguous_grad(x: torch.Tensor) -> torch.Tensor:
    """``x`` unchanged; its gradient is made NCHW-contiguous on the way back.

    Put after an instance norm whose output feeds channels-last tensors: PyTorch's CPU instance-norm
    backward (2.14) returns wrong gradients at batch 1 when the gradient arriving for an NCHW input is
    channels-last (errors larger than the gradient itself; tested in
    ``tests/lightning_modules/diffhdrsyn/model/test_blocks.py``).

    Example:
        >>> x = torch.ones(1, 2, 3, 3, requires_grad=True)
        >>> contiguous_grad(x).contiguous(memory_format=torch.channels_last).sum().backward()
        >>> x.grad.is_contiguous()
        True
    """
    return _ContiguousGrad.apply(x)


class ConditionalInstanceNorm2d(nn.Module):
    """Instance normalisation with one affine pair per style (target-EV step), paper Sec. 3.2.

    ``Y = gamma_e * (X - mu) / sigma + beta_e`` where ``mu`` and ``sigma`` are the per-sample,
    per-channel spatial mean and standard deviation of ``X`` and ``e`` is the style index.

    Args:
        num_features: number of channels ``C``.
        num_styles: number of affine pairs (one per target exposure step).
        eps: added to the variance.
    """

    def __init__(self, num_features: int, num_styles: int, eps: float = 1e-5) -> None:
        super().__init__()
        if not num_styles >= 1:
            raise ValueError(f"num_styles must be >= 1, got {num_styles}")
        self.num_styles = num_styles
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_styles, num_features))
        self.bias = nn.Parameter(torch.zeros(num_styles, num_features))

    def forward(self, x: torch.Tensor, style: int | torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` ``(B, C, H, W)`` with style ``style``: an int or a ``(B,)`` long tensor."""
        if isinstance(style, int):
            if not 0 <= style < self.num_styles:
                raise ValueError(f"style must be in [0, {self.num_styles}), got {style}")
            gamma, beta = self.weight[style][None], self.bias[style][None]
        else:
            if style.shape != (x.shape[0],):
                raise ValueError(f"style tensor must have shape (B,), got {tuple(style.shape)}")
            gamma, beta = self.weight[style], self.bias[style]
        if gamma.shape[0] == 1:  # one style for the batch: instance norm applies the affine pair itself
            return F.instance_norm(x, weight=gamma[0], bias=beta[0], eps=self.eps)
        # per-sample styles: instance norm is batch norm over (1, B*C), which takes one pair per sample-channel
        b, c, h, w = x.shape
        normed = F.batch_norm(x.reshape(1, b * c, h, w), None, None, gamma.reshape(-1), beta.reshape(-1),
                              training=True, eps=self.eps)
        return normed.view(b, c, h, w)


class ConvGRUCell(nn.Module):
    """Convolutional GRU cell (Ballas et al. 2016), the recurrent bottleneck of paper Fig. 3.

    ``z, r = sigmoid(conv([x, h]))``, ``n = tanh(conv([x, r * h]))``, ``h' = (1 - z) * h + z * n``.
    The hidden state is passed in and returned explicitly; ``None`` means zeros (first recursion).
    """

    def __init__(self, input_channels: int, hidden_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        padding = kernel_size // 2
        self.gates = nn.Conv2d(input_channels + hidden_channels, 2 * hidden_channels, kernel_size, padding=padding)
        self.candidate = nn.Conv2d(input_channels + hidden_channels, hidden_channels, kernel_size, padding=padding)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor | None = None) -> torch.Tensor:
        """One GRU update of ``hidden`` ``(B, C_h, H, W)`` from ``x`` ``(B, C_in, H, W)``."""
        if hidden is None:
            hidden = x.new_zeros(x.shape[0], self.hidden_channels, *x.shape[-2:])
        if not (hidden.shape[0] == x.shape[0] and hidden.shape[-2:] == x.shape[-2:]):
            raise ValueError(f"hidden state {tuple(hidden.shape)} does not match input {tuple(x.shape)}")
        update, reset = torch.sigmoid(self.gates(torch.cat([x, hidden], dim=1))).chunk(2, dim=1)
        candidate = torch.tanh(self.candidate(torch.cat([x, reset * hidden], dim=1)))
        return (1 - update) * hidden + update * candidate
