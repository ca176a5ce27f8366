import pytest
import torch

from lightning_modules.diffhdrsyn.model import (
    ConditionalInstanceNorm2d,
    ConvGRUCell,
    ExposureNet,
    ExposureState,
    GlobalUNet,
    LocalUNet,
    RefineUNet,
    StackGenerator,
)
from ops.exposure import exposure_shift
from ops.padding import mirror_pad
from tests.helpers import randomize_heads

N = 3  # steps per direction


def perturb_styles(module: torch.nn.Module) -> None:
    """Give every CIN style its own affine (at init they are all identity)."""
    for m in module.modules():
        if isinstance(m, ConditionalInstanceNorm2d):
            torch.nn.init.normal_(m.weight, 1.0, 0.5)
            torch.nn.init.normal_(m.bias, 0.0, 0.5)


@pytest.fixture
def ldr() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(2, 3, 32, 32)


@pytest.fixture
def targets() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.rand(2, 2 * N + 1, 3, 32, 32)


@pytest.fixture
def generator() -> StackGenerator:
    """A generator whose output depends on every sub-network (heads randomised)."""
    torch.manual_seed(2)
    gen = StackGenerator("tiny", num_steps=N)
    randomize_heads(gen)
    return gen


@torch.no_grad()
def test_untrained_generator_is_the_analytic_exposure_stack(ldr):
    out = StackGenerator("tiny", num_steps=N)(ldr)
    for i, ev in enumerate(range(-N, N + 1)):
        torch.testing.assert_close(out["stack"][:, i], exposure_shift(ldr, float(ev)), atol=2e-6, rtol=0)
    torch.testing.assert_close(out["global"], out["stack"][:, [0, 1, 2, 4, 5, 6]])


@torch.no_grad()
@torch.no_grad()
def test_eval_runs_on_a_reflected_margin_and_crops_it(generator):
    """Eval mode without targets: the nets see the image with a 32-px mirrored border, outputs are cropped back;
    training mode and teacher forcing see the image itself."""
    torch.manual_seed(3)
    ldr = torch.rand(1, 3, 64, 96)
    assert generator.margin == 32
    plain = generator(ldr)  # training mode
    generator.eval()
    margined = generator(ldr)
    generator.margin = 0
    padded = generator(mirror_pad(ldr, 32, 32, 32, 32))
    for key, value in margined.items():
        assert value.shape == plain[key].shape
        torch.testing.assert_close(value, padded[key][..., 32:96, 32:128])
    assert not torch.allclose(margined["stack"], generator(ldr)["stack"])  # the border changed something
    torch.testing.assert_close(margined["stack"][:, N], ldr)  # the input itself is untouched
    generator.margin = 32
    targets = torch.rand(1, 2 * N + 1, 3, 64, 96)
    torch.testing.assert_close(generator(ldr, targets)["stack"], generator._forward(ldr, targets, True)["stack"])


@pytest.mark.parametrize("margin", [-16, 8])
def test_margin_must_keep_sizes_multiples(margin):
    with pytest.raises(ValueError, match="margin must be a non-negative multiple of 16"):
        StackGenerator("tiny", margin=margin)


def test_paper_formulation_averages_tanh_with_the_input(ldr):
    torch.manual_seed(3)
    net = GlobalUNet(4, 32, 3, True, shift_ev=None)
    x = ldr * 2 - 1
    features, _ = net.trunk(x, 0)
    torch.testing.assert_close(net(x, 0)[0], (torch.tanh(net.head(features)) + x) / 2)
    assert net.head.weight.abs().sum() > 0
    refine = StackGenerator("tiny", shift_residual=False, clip_headroom=False).up.refine_net
    assert not refine.residual and refine.head.weight.abs().sum() > 0
    with pytest.raises(ValueError, match="direction"):
        ExposureNet("tiny", direction=0)


@torch.no_grad()
def test_paper_width_direction_forward():
    torch.manual_seed(0)
    net = ExposureNet("paper")
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    step = net(image, 0)
    assert step.image.shape == step.global_image.shape == (1, 3, 64, 64)
    assert step.edges.shape == (1, 1, 64, 64)
    assert step.state.global_hidden.shape == (1, 1024, 2, 2)
    assert step.state.local_hidden.shape == (1, 256, 4, 4)


@torch.no_grad()
def test_stack_shapes_and_order(generator, ldr):
    out = generator(ldr)
    assert out["stack"].shape == (2, 2 * N + 1, 3, 32, 32)
    assert out["global"].shape == (2, 2 * N, 3, 32, 32)
    assert out["edges"].shape == (2, 2 * N, 1, 32, 32)
    assert torch.equal(out["stack"][:, N], ldr)
    assert out["stack"].min() >= 0 and out["stack"].max() <= 1
    # EV -1 is the down net's first step, EV +1 the up net's first step, both fed the input
    x = ldr * 2 - 1
    assert torch.allclose(out["stack"][:, N - 1], (generator.down(x, 0).image + 1) / 2, atol=1e-6)
    assert torch.allclose(out["stack"][:, N + 1], (generator.up(x, 0).image + 1) / 2, atol=1e-6)
    assert not torch.allclose(out["stack"][:, N - 1], out["stack"][:, N + 1])


@torch.no_grad()
def test_gru_state_changes_output_across_steps(generator, ldr):
    x = ldr * 2 - 1
    first = generator.up(x, 0)
    assert first.state.global_hidden is not None and first.state.local_hidden is not None
    with_state = generator.up(x, 1, first.state)
    without_state = generator.up(x, 1)
    assert not torch.allclose(with_state.image, without_state.image)
    assert not torch.allclose(with_state.edges, without_state.edges)


@torch.no_grad()
def test_cin_style_selection_matters(generator, ldr):
    perturb_styles(generator)
    x = ldr * 2 - 1
    state = generator.up(x, 0).state
    assert not torch.allclose(generator.up(x, 1, state).image, generator.up(x, 2, state).image)
    with pytest.raises(ValueError, match=r"step must be in \[0, 3\)"):
        generator.up(x, 3)


@torch.no_grad()
def test_teacher_forcing_uses_targets(generator, ldr, targets):
    free = generator(ldr)["stack"]
    forced = generator(ldr, targets=targets)["stack"]
    changed = targets.clone()
    changed[:, N + 1] = 1 - changed[:, N + 1]  # EV +1 target: the input of the up net's step 2
    forced_changed = generator(ldr, targets=changed)["stack"]
    # first steps are fed the input either way
    assert torch.allclose(forced[:, N + 1], free[:, N + 1], atol=1e-6)
    assert torch.allclose(forced[:, N - 1], free[:, N - 1], atol=1e-6)
    assert not torch.allclose(forced[:, N + 2], free[:, N + 2])
    assert not torch.allclose(forced_changed[:, N + 2], forced[:, N + 2])
    assert torch.allclose(forced_changed[:, N + 1], forced[:, N + 1])
    assert torch.allclose(forced_changed[:, : N + 1], forced[:, : N + 1])  # down direction untouched


def test_forward_pair_equals_two_passes_and_their_gradients(generator, ldr, targets):
    """Sharing step 0 between the autoregressive and teacher-forced passes and running their later steps as
    one batch change nothing but the cost."""
    def loss(outputs):
        return sum(((out["stack"] - targets) ** 2).mean() + out["edges"].mean() + out["global"].abs().mean()
                   for out in outputs)

    separate = (generator(ldr), generator(ldr, targets=targets))
    separate_loss = loss(separate)
    separate_grads = torch.autograd.grad(separate_loss, list(generator.parameters()), allow_unused=True)
    paired = generator.forward_pair(ldr, targets)
    paired_loss = loss(paired)
    paired_grads = torch.autograd.grad(paired_loss, list(generator.parameters()), allow_unused=True)
    for one, two in zip(separate, paired):
        for key in ("stack", "global", "edges"):
            assert torch.equal(one[key], two[key]), key
    assert torch.equal(separate_loss, paired_loss)
    for a, b in zip(separate_grads, paired_grads, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)


def test_gradients_reach_both_directions(generator, ldr):
    out = generator(ldr)
    loss = out["stack"][:, 0].mean() + out["stack"][:, -1].mean()  # last step of each direction
    loss.backward()
    for direction in (generator.up, generator.down):
        for net in (direction.global_net, direction.local_net, direction.refine_net):
            grad = net.trunk.stem[0].weight.grad
            assert grad is not None
            assert torch.isfinite(grad).all()
            assert grad.abs().sum() > 0


@torch.no_grad()
def test_skip_refinement_at_call(generator, ldr):
    out = generator(ldr, refine=False)
    assert torch.allclose(out["stack"][:, [0, 1, 2, 4, 5, 6]], out["global"])


@pytest.mark.parametrize("switch", ["use_refine", "use_local", "use_gru", "use_cin"])
def test_ablation_switches_remove_components(switch, ldr):
    gen = StackGenerator("tiny", num_steps=N, **{switch: False})
    kinds = {
        "use_refine": RefineUNet,
        "use_local": LocalUNet,
        "use_gru": ConvGRUCell,
        "use_cin": ConditionalInstanceNorm2d,
    }
    assert not any(isinstance(m, kinds[switch]) for m in gen.modules())
    with torch.no_grad():
        out = gen(ldr)
    assert out["stack"].shape == (2, 2 * N + 1, 3, 32, 32)
    assert ("edges" in out) == (switch != "use_local")
    if switch == "use_refine":
        assert torch.allclose(out["stack"][:, [0, 1, 2, 4, 5, 6]], out["global"])
    if switch == "use_gru":
        assert generator_state(gen, ldr) == ExposureState(None, None)


def generator_state(gen: StackGenerator, ldr: torch.Tensor) -> ExposureState:
    with torch.no_grad():
        return gen.up(ldr * 2 - 1, 0).state


def test_unet_baseline_has_only_the_global_unet(ldr):
    gen = StackGenerator("tiny", use_refine=False, use_local=False, use_gru=False, use_cin=False)
    kinds = (RefineUNet, LocalUNet, ConvGRUCell, ConditionalInstanceNorm2d)
    assert not any(isinstance(m, kinds) for m in gen.modules())
    with torch.no_grad():
        out = gen(ldr)
    assert set(out) == {"stack", "global"}


def test_bad_sizes(generator, ldr, targets):
    with pytest.raises(ValueError, match="ldr's H and W must be multiples of 32, got 100x120"):
        generator(torch.rand(1, 3, 100, 120))  # the caller's size, not the size with the eval margin
    with pytest.raises(ValueError, match=r"ldr is empty \(shape \[0, 3, 32, 32\]\)"):
        generator(torch.rand(0, 3, 32, 32))
    with pytest.raises(ValueError, match=r"ldr is empty \(shape \[1, 3, 0, 32\]\)"):
        generator(torch.rand(1, 3, 0, 32))
    with pytest.raises(TypeError, match="ldr must be a floating-point tensor, got torch.uint8"):
        generator(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="targets must have shape"):
        generator(ldr, targets=targets[:, :5])
    with pytest.raises(ValueError, match="Shape mismatch at dimension 1: expected 3, got 1"):
        generator(torch.rand(1, 1, 32, 32))
    assert generator.size_multiple == 32
