import pytest
import torch

from lightning_modules.diffhdrsyn.model.blocks import (
    FUSED_CONV_MIN_PIXELS,
    ConditionalInstanceNorm2d,
    ConvGRUCell,
    DoubleSwishConv,
    GlobalContext,
    SwishConv,
    contiguous_grad,
    fused_conv_applies,
    instance_norm_silu,
)


@pytest.fixture
def features() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(2, 4, 8, 8) * 3 + 1


def test_swish_conv_is_conv_then_swish(features):
    block = SwishConv(4, 5)
    pre = block[0](features)
    assert torch.allclose(block(features), pre * torch.sigmoid(pre))
    assert DoubleSwishConv(4, 6)(features).shape == (2, 6, 8, 8)


@pytest.mark.parametrize("kernel_size", [1, 3])
def test_swish_conv_fused_inference_equals_conv_then_swish(kernel_size: int) -> None:
    """Without autograd a large map runs as one oneDNN conv with a Swish post-op: same values, channels-last."""
    torch.manual_seed(0)
    block = SwishConv(8, 16, kernel_size)
    x = torch.randn(1, 8, 128, 128).contiguous(memory_format=torch.channels_last)
    assert 128 * 128 >= FUSED_CONV_MIN_PIXELS
    with torch.no_grad():
        assert fused_conv_applies(x, block[0]) == torch.backends.mkldnn.is_available()
        fused, plain = block(x), block[1](block[0](x))
    assert fused.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(fused, plain, atol=1e-5)


def test_swish_conv_keeps_the_graph_where_autograd_needs_it() -> None:
    """Training (grad mode, weights that require grad), small maps and float64 take the two-op path."""
    block = SwishConv(4, 4)
    x = torch.randn(1, 4, 128, 128)
    assert not fused_conv_applies(x, block[0])  # grad mode: the fused op has no backward
    assert block(x).grad_fn is not None
    with torch.no_grad():
        assert not fused_conv_applies(torch.randn(1, 4, 64, 64), block[0])  # below the size where it pays
        assert not fused_conv_applies(x.double(), block.double()[0])


@pytest.mark.parametrize("per_sample", [False, True], ids=["one pair", "per-sample pairs"])
@pytest.mark.parametrize("grad", [False, True], ids=["inference", "autograd"])
def test_instance_norm_silu_matches_the_formula(per_sample: bool, grad: bool) -> None:
    """Both paths (channels-last statistics without autograd, native instance norm with it) give
    ``silu(gamma * (x - mu) / sigma + beta)``, channels-last."""
    torch.manual_seed(0)
    x = (torch.randn(2, 5, 12, 12) * 3 + 4).contiguous(memory_format=torch.channels_last)
    shape = (2, 5) if per_sample else (5,)
    weight, bias = torch.randn(shape), torch.randn(shape)
    mu = x.mean(dim=(2, 3), keepdim=True)
    sigma = (x.var(dim=(2, 3), unbiased=False, keepdim=True) + 1e-5).sqrt()
    expected = torch.nn.functional.silu(weight.view(-1, 5, 1, 1) * (x - mu) / sigma + bias.view(-1, 5, 1, 1))
    with torch.set_grad_enabled(grad):
        out = instance_norm_silu(x.requires_grad_(grad), weight, bias)
    assert (out.grad_fn is not None) == grad
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out, expected, atol=1e-5)


def test_instance_norm_silu_inference_is_as_exact_as_native_on_a_large_mean() -> None:
    """Two-pass statistics: no one-pass-variance loss where the mean is large against the spread; the error is
    that of float32 itself (1000 +- 0.1 has an ulp of 6e-5), as for PyTorch's native instance norm."""
    torch.manual_seed(0)
    x = (torch.randn(1, 16, 64, 64) * 0.1 + 1000).contiguous(memory_format=torch.channels_last)
    weight, bias = torch.ones(16), torch.zeros(16)
    truth = torch.nn.functional.silu(torch.nn.functional.instance_norm(x.double().contiguous(), eps=1e-5))
    with torch.no_grad():
        fast = instance_norm_silu(x, weight, bias)
    native = torch.nn.functional.silu(torch.nn.functional.instance_norm(x.contiguous(), weight=weight, bias=bias))
    fast_error, native_error = (fast - truth).abs().max(), (native - truth).abs().max()
    assert fast_error < 2e-3 and fast_error < 2 * native_error


def test_cin_matches_paper_formula(features):
    cin = ConditionalInstanceNorm2d(4, num_styles=3)
    torch.nn.init.normal_(cin.weight)
    torch.nn.init.normal_(cin.bias)
    mu = features.mean(dim=(2, 3), keepdim=True)
    sigma = (features.var(dim=(2, 3), unbiased=False, keepdim=True) + cin.eps).sqrt()
    for style in range(3):
        expected = cin.weight[style].view(1, 4, 1, 1) * (features - mu) / sigma + cin.bias[style].view(1, 4, 1, 1)
        assert torch.allclose(cin(features, style), expected, atol=1e-5)


def test_cin_per_sample_styles(features):
    cin = ConditionalInstanceNorm2d(4, num_styles=3)
    torch.nn.init.normal_(cin.weight)
    out = cin(features, torch.tensor([2, 0]))
    assert torch.allclose(out[:1], cin(features[:1], 2))
    assert torch.allclose(out[1:], cin(features[1:], 0))
    assert not torch.allclose(cin(features, 0), cin(features, 2))


@pytest.mark.parametrize("style", [1, torch.tensor([2, 0])], ids=["one style", "per-sample styles"])
def test_cin_gradients_match_paper_formula(features, style) -> None:
    """The fused affine (instance / batch norm weights) has the gradients of ``gamma * normed + beta``."""
    cin = ConditionalInstanceNorm2d(4, num_styles=3).double()
    torch.nn.init.normal_(cin.weight)
    torch.nn.init.normal_(cin.bias)
    x = features.double().requires_grad_()
    upstream = torch.randn_like(x)
    styles = torch.as_tensor(style).expand(2)
    mu = x.mean(dim=(2, 3), keepdim=True)
    sigma = (x.var(dim=(2, 3), unbiased=False, keepdim=True) + cin.eps).sqrt()
    expected = cin.weight[styles][..., None, None] * (x - mu) / sigma + cin.bias[styles][..., None, None]
    want = torch.autograd.grad((expected * upstream).sum(), [x, cin.weight, cin.bias])
    got = torch.autograd.grad((cin(x, style) * upstream).sum(), [x, cin.weight, cin.bias])
    for g, w in zip(got, want):
        assert torch.allclose(g, w, atol=1e-10)


def test_cin_rejects_bad_style(features):
    cin = ConditionalInstanceNorm2d(4, num_styles=3)
    with pytest.raises(ValueError, match=r"style must be in \[0, 3\)"):
        cin(features, 3)
    with pytest.raises(ValueError, match="shape"):
        cin(features, torch.tensor([0, 1, 2]))


def test_conv_gru_cell_state(features):
    cell = ConvGRUCell(4, 6)
    first = cell(features)
    assert first.shape == (2, 6, 8, 8)
    assert torch.equal(first, cell(features, torch.zeros(2, 6, 8, 8)))
    second = cell(features, first)
    assert not torch.allclose(first, second)
    with pytest.raises(ValueError, match="hidden state"):
        cell(features, torch.zeros(2, 6, 4, 4))


@pytest.mark.parametrize("batch", [1, 2])
def test_contiguous_grad_gives_instance_norm_its_true_gradient(batch: int) -> None:
    """A channels-last gradient into F.instance_norm (batch 1) is misread by PyTorch; contiguous_grad fixes it."""
    torch.manual_seed(0)
    x0 = torch.randn(batch, 4, 8, 8, dtype=torch.float64) * 0.1 + 3
    weight = torch.arange(8.0, dtype=torch.float64)  # makes the upstream gradient non-uniform

    def grad(guard: bool) -> torch.Tensor:
        x = x0.clone().requires_grad_()
        y = torch.nn.functional.instance_norm(x)
        y = contiguous_grad(y) if guard else y
        (y.contiguous(memory_format=torch.channels_last) * weight).square().sum().backward()
        return x.grad

    x = x0.clone().requires_grad_()
    (torch.nn.functional.instance_norm(x) * weight).square().sum().backward()
    assert torch.allclose(grad(True), x.grad, atol=1e-9)


def test_contiguous_grad_is_the_identity_forward() -> None:
    x = torch.randn(1, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    assert torch.equal(contiguous_grad(x), x)


def test_global_context_starts_as_identity_and_sees_the_whole_image() -> None:
    torch.manual_seed(0)
    block = GlobalContext(8)
    x = torch.randn(1, 8, 16, 16)
    assert torch.equal(block(x), x)
    torch.nn.init.normal_(block.excite.weight)
    far = x.clone()
    far[..., 15, 15] += 5.0  # one corner changes...
    assert not torch.allclose(block(far)[..., 0, 0], block(x)[..., 0, 0])  # ...and the opposite corner sees it
    assert block(torch.randn(2, 8, 5, 7)).shape == (2, 8, 5, 7)  # any size
    x = x.double().requires_grad_()
    block = block.double()
    assert torch.autograd.gradcheck(block, (x[..., :4, :4].detach().requires_grad_(),))
