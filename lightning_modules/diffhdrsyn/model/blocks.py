"""Building blocks shared by the stack-generation U-Nets (paper Sec. 3.2, Fig. 3)."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from ops.checks import capturing_graph


#: Fewest pixels at which a conv runs with its fused post-op in one oneDNN call (smaller maps: no faster).
FUSED_CONV_MIN_PIXELS = 128 * 128


def needs_graph(*tensors: torch.Tensor) -> bool:
    """True when autograd records operations on ``tensors`` (grad mode on and one of them requires grad)."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


@functools.cache
def _fused_conv_op_exists() -> bool:
    """Whether this PyTorch build registers oneDNN's fused conv op (builds with oneDNN do)."""
    try:
        return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
    except (AttributeError, RuntimeError):
        return False


def fused_conv_applies(x: torch.Tensor, conv: nn.Conv2d) -> bool:
    """Whether ``conv`` may run on ``x`` as one oneDNN call with its Swish as a post-op: float32 on a CPU
    with oneDNN, a map of at least :data:`FUSED_CONV_MIN_PIXELS`, no autograd graph (the fused op has no
    backward), an unstrided, undilated, ungrouped conv, and not while being traced, compiled or exported
    (ONNX has no such op; the compiler fuses by itself)."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32 == conv.weight.dtype
        and x.shape[-2] * x.shape[-1] >= FUSED_CONV_MIN_PIXELS
        and torch.backends.mkldnn.enabled
        and _fused_conv_op_exists()
        and conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1
        and conv.padding_mode == "zeros" and not isinstance(conv.padding, str)
        and not needs_graph(x, conv.weight, *([conv.bias] if conv.bias is not None else []))
        and not capturing_graph()
    )


class SwishConv(nn.Sequential):
    """``Conv2d`` ('same' padding) followed by Swish (``x * sigmoid(x)``, i.e. SiLU).

    Without autograd (inference, validation) large float32 maps on a CPU run as one oneDNN convolution with
    Swish as its post-op (:func:`fused_conv_applies`): no separate pass over the output, same values up
    to float rounding.

    Example:
        >>> block = SwishConv(3, 4)
        >>> x = torch.rand(1, 3, 128, 128)
        >>> with torch.no_grad():
        ...     fused, plain = block(x), block[1](block[0](x))
        >>> bool(torch.allclose(fused, plain, atol=1e-6))
        True
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
            nn.SiLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self[0]
        if fused_conv_applies(x, conv):
            return torch.ops.mkldnn._convolution_pointwise(
                x, conv.weight, conv.bias, list(conv.padding), [1, 1], [1, 1], 1, "swish", [], ""
            )
        return self[1](conv(x))


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


def affine_instance_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """PyTorch's instance norm of ``x`` ``(B, C, H, W)`` with one affine pair for the batch (``weight``,
    ``bias`` ``(1, C)``) or one per sample (``(B, C)``: batch norm over ``(1, B*C)``, which takes one pair
    per sample-channel)."""
    if weight.shape[0] == 1:
        return F.instance_norm(x, weight=weight[0], bias=bias[0], eps=eps)
    b, c, h, w = x.shape
    normed = F.batch_norm(x.reshape(1, b * c, h, w), None, None, weight.reshape(-1), bias.reshape(-1),
                          training=True, eps=eps)
    return normed.view(b, c, h, w)


def instance_norm_silu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``silu(weight * (x - mu) / sqrt(var + eps) + bias)``: affine instance norm, then Swish, channels-last out.

    ``mu`` and ``var`` are the per-sample, per-channel spatial mean and (biased) variance of ``x``
    ``(B, C, H, W)``; ``weight`` and ``bias`` are ``(C,)`` or one pair per sample ``(B, C)`` (conditional
    instance norm). With autograd it runs PyTorch's instance norm on NCHW (exact, fast gradients); without,
    it stays channels-last: two-pass statistics, one multiply-add and an in-place Swish, about twice as fast.
    Same values up to float rounding.

    Example:
        >>> x = torch.randn(2, 3, 8, 8)
        >>> y = instance_norm_silu(x, torch.ones(3), torch.zeros(3))
        >>> bool(torch.allclose(y, F.silu(F.instance_norm(x)), atol=1e-6))
        True
    """
    if weight.dim() == 1:
        weight, bias = weight[None], bias[None]
    if needs_graph(x, weight, bias):
        normed = affine_instance_norm(x.contiguous(), weight, bias, eps)
        return F.silu(contiguous_grad(normed).contiguous(memory_format=torch.channels_last))
    x = x.contiguous(memory_format=torch.channels_last)
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = (x - mean).square_().mean(dim=(2, 3), keepdim=True)
    scale = weight[..., None, None] * torch.rsqrt(var + eps)
    return F.silu(torch.addcmul(bias[..., None, None] - mean * scale, x, scale), inplace=True)


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

    def affine(self, style: int | torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(gamma, beta)`` of ``style`` (an int or a ``(batch,)`` long tensor): each ``(1, C)`` or ``(batch, C)``."""
        if isinstance(style, int):
            if not 0 <= style < self.num_styles:
                raise ValueError(f"style must be in [0, {self.num_styles}), got {style}")
            return self.weight[style][None], self.bias[style][None]
        if style.shape != (batch,):
            raise ValueError(f"style tensor must have shape (B,), got {tuple(style.shape)}")
        return self.weight[style], self.bias[style]

    def forward(self, x: torch.Tensor, style: int | torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` ``(B, C, H, W)`` with style ``style``: an int or a ``(B,)`` long tensor."""
        return affine_instance_norm(x, *self.affine(style, x.shape[0]), self.eps)


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


class GlobalContext(nn.Module):
    """Image-wide context added to a feature map: ``x + W2 swish(W1 mean_hw(x))`` (1x1 convs on the spatial
    mean, broadcast back), so every position sees the whole image whatever its size (ours; a U-Net's 3x3
    receptive field is a few hundred pixels). ``W2`` starts at zero: the block starts as the identity.

    Example:
        >>> block = GlobalContext(8)
        >>> x = torch.rand(1, 8, 4, 4)
        >>> bool(torch.equal(block(x), x))  # the identity until trained
        True
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.squeeze = nn.Conv2d(channels, hidden, 1)
        self.excite = nn.Conv2d(hidden, channels, 1)
        nn.init.zeros_(self.excite.weight)
        nn.init.zeros_(self.excite.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = x.mean(dim=(2, 3), keepdim=True)
        return x + self.excite(F.silu(self.squeeze(context)))
