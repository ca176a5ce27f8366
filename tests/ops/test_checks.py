"""One error contract: bad shapes and values raise ValueError, non-tensors TypeError (no kornia BaseError)."""

import pytest
import torch

from losses import contextual_bilateral_loss, edge_loss, hdr_loss, histogram_loss
from ops import canny_edges, synthesize_hdr
from ops.checks import check_same_shape, check_shape
from ops.exposure import exposure_shift
from ops.tonemap import luminance, mu_law, reinhard_global


def test_check_shape() -> None:
    check_shape(torch.zeros(2, 3, 4, 5), ["B", "3", "H", "W"])
    with pytest.raises(ValueError, match=r"expected 4 dimensions, got 3\.\n  Expected shape: \['B', '3', 'H', 'W'\]"):
        check_shape(torch.zeros(3, 4, 5), ["B", "3", "H", "W"])
    with pytest.raises(ValueError, match=r"dimension 1: expected 3, got 2\.\n.*\n  Actual shape: \[1, 2, 4, 5\]"):
        check_shape(torch.zeros(1, 2, 4, 5), ["B", "3", "H", "W"])


def test_check_same_shape() -> None:
    check_same_shape(torch.zeros(2, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"same shape\.\n  First tensor shape: \[2, 3\]\n  Second tensor shape: \[3\]"):
        check_same_shape(torch.zeros(2, 3), torch.zeros(3))


def test_non_tensors_raise_type_error() -> None:
    with pytest.raises(TypeError, match="Type mismatch: expected Tensor, got <class 'list'>"):
        mu_law([0.5])
    with pytest.raises(TypeError, match="Type mismatch: expected Tensor, got <class 'float'>"):
        exposure_shift(0.5, 1.0)


def test_bad_values_raise_value_error() -> None:
    with pytest.raises(ValueError, match="Not a color tensor. Got shape \\[1, 2, 4, 4\\].\nhdr must be"):
        luminance(torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"hdr must be \(B, 3, H, W\), got shape \(3, 4, 4\)"):
        reinhard_global(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="mu must be > 0, got nan"):
        mu_law(torch.zeros(1), float("nan"))
    with pytest.raises(ValueError, match="Shape mismatch: tensors must have the same shape"):
        hdr_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match=r"spatial_weight must be in \[0, 1\], got 2"):
        contextual_bilateral_loss(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3), spatial_weight=2)


EMPTY_OR_WRONG_DTYPE_CALLS = {
    "synthesize_hdr": lambda x: synthesize_hdr(torch.stack([x, x], 1), torch.tensor([[1.0, 2.0]]).expand(len(x), 2)),
    "canny_edges": canny_edges,
    "reinhard_global": reinhard_global,
    "histogram_loss": lambda x: histogram_loss(x, x),
    "edge_loss": lambda x: edge_loss(x[:, :1], x[:, :1]),
    "hdr_loss": lambda x: hdr_loss(x, x),
    "contextual_bilateral_loss": lambda x: contextual_bilateral_loss(x, x),
}


@pytest.mark.parametrize("name", sorted(EMPTY_OR_WRONG_DTYPE_CALLS))
@pytest.mark.parametrize("shape", [(0, 3, 8, 8), (1, 3, 0, 8), (1, 3, 8, 0)], ids=["empty-batch", "zero-height", "zero-width"])
def test_empty_batches_and_zero_size_images_raise_value_error(name: str, shape: tuple[int, ...]) -> None:
    """The public image ops and loss terms refuse what has no pixel, instead of a NaN mean or an IndexError."""
    with pytest.raises(ValueError, match=r"is empty \(shape \[.*\]\): an empty batch or a zero-size image"):
        EMPTY_OR_WRONG_DTYPE_CALLS[name](torch.rand(shape))


@pytest.mark.parametrize("name", sorted(EMPTY_OR_WRONG_DTYPE_CALLS))
def test_integer_images_raise_type_error(name: str) -> None:
    """An 8-bit image passed as integers (0..255) is a TypeError naming the dtype, not silently clipped values."""
    with pytest.raises(TypeError, match="torch.int64"):
        EMPTY_OR_WRONG_DTYPE_CALLS[name](torch.randint(0, 256, (1, 3, 8, 8)))


def test_elementwise_ops_refuse_integer_images() -> None:
    image = torch.full((1, 3, 2, 2), 128, dtype=torch.uint8)
    for call in (lambda: exposure_shift(image, 1.0), lambda: mu_law(image)):
        with pytest.raises(TypeError, match="floating-point tensor.*torch.uint8"):
            call()
