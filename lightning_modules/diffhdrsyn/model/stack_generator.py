"""Recursive multi-exposure stack generator: stop-up and stop-down networks (paper Sec. 3.2, Fig. 2-3)."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from kornia.color import rgb_to_grayscale
from torch import nn

from lightning_modules.diffhdrsyn.model.concurrency import run_both
from lightning_modules.diffhdrsyn.model.generator_config import DEFAULT_GENERATOR, GeneratorConfig
from lightning_modules.diffhdrsyn.model.global_net import GlobalUNet
from lightning_modules.diffhdrsyn.model.local_net import LocalUNet
from lightning_modules.diffhdrsyn.model.refine_net import RefineUNet
from lightning_modules.diffhdrsyn.model.widths import GeneratorWidths, get_widths
from ops.checks import check_image, check_shape
from ops.edges import canny_edges
from ops.padding import mirror_pad


def as_generator_config(config: GeneratorConfig | str | GeneratorWidths, switches: dict[str, Any]) -> GeneratorConfig:
    """``config`` as a :class:`GeneratorConfig` (a width preset gets the default switches), ``switches`` applied."""
    if not isinstance(config, GeneratorConfig):
        config = DEFAULT_GENERATOR.replace(width=config)
    return config.replace(**switches) if switches else config


class ExposureState(NamedTuple):
    """ConvGRU hidden states one direction carries from one recursion step to the next."""

    global_hidden: torch.Tensor | None = None
    local_hidden: torch.Tensor | None = None


class ExposureStep(NamedTuple):
    """Outputs of one recursion step; images in [-1, 1], edge map in [0, 1]."""

    image: torch.Tensor
    global_image: torch.Tensor
    edges: torch.Tensor | None
    state: ExposureState


def _cat(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    return None if a is None else torch.cat([a, b])


def _split(x: torch.Tensor | None, size: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    return (None, None) if x is None else (x[:size], x[size:])


def check_margin(margin: int, size_multiple: int, name: str = "margin") -> None:
    """Raise ``ValueError`` (naming ``name``) unless ``margin`` is a non-negative multiple of half
    ``size_multiple``: a margin on both sides then keeps a size's multiple."""
    half = size_multiple // 2
    if margin < 0 or margin % half:
        raise ValueError(f"{name} must be a non-negative multiple of {half} (half the size multiple), got {margin}")


def split_step(step: ExposureStep, size: int) -> tuple[ExposureStep, ExposureStep]:
    """The first ``size`` samples of ``step`` and the rest, as two steps."""
    h = [_split(x, size) for x in (step.image, step.global_image, step.edges, *step.state)]
    return ExposureStep(h[0][0], h[1][0], h[2][0], ExposureState(h[3][0], h[4][0])), ExposureStep(
        h[0][1], h[1][1], h[2][1], ExposureState(h[3][1], h[4][1]))


class ExposureNet(nn.Module):
    """One exposure direction (stop-up or stop-down): global + local + refinement U-Nets.

    Each call is one recursion step ``k`` (target EV ``+-(k + 1)`` relative to the input): the global net
    maps the previous image to the next tone, the local net maps the previous image's grey version and
    Canny edges to the next edge map, the refinement net fuses image, global output and edge map. ``k``
    selects the CIN style; the GRU states are passed in and returned in :class:`ExposureState`.

    Args:
        config: the generator's :class:`~lightning_modules.diffhdrsyn.model.generator_config.GeneratorConfig`
            (or a width preset).
        direction: +1 for the stop-up net, -1 for the stop-down net (the sign of the shift).
        switches: fields of :class:`GeneratorConfig` overriding ``config``'s.
    """

    def __init__(
        self, config: GeneratorConfig | str | GeneratorWidths = DEFAULT_GENERATOR, direction: int = 1, **switches: Any
    ) -> None:
        super().__init__()
        config = as_generator_config(config, switches)
        if direction not in (1, -1):
            raise ValueError(f"direction must be +1 (stop-up) or -1 (stop-down), got {direction}")
        widths = get_widths(config.width)
        self.num_steps = config.num_steps
        styles = config.num_steps if config.use_cin else None
        gw, lw, rw = widths.global_net, widths.local_net, widths.refine_net
        shift_ev = float(direction) if config.shift_residual else None
        context = config.down_context and direction < 0
        self.global_net = GlobalUNet(gw.base_channels, gw.max_channels, styles, config.use_gru, shift_ev,
                                     config.clip_headroom and direction < 0, context)
        self.local_net = (LocalUNet(lw.base_channels, lw.max_channels, styles, config.use_gru)
                          if config.use_local else None)
        self.refine_net = (RefineUNet(rw.base_channels, rw.max_channels, config.use_local, config.shift_residual,
                                      context) if config.use_refine else None)

    def forward(
        self, image: torch.Tensor, step: int, state: ExposureState | None = None, refine: bool = True
    ) -> ExposureStep:
        """Generate the next exposure from ``image`` ``(B, 3, H, W)`` in [-1, 1].

        ``refine=False`` skips the refinement net (stage 1 of the authors' schedule).
        """
        if not 0 <= step < self.num_steps:
            raise ValueError(f"step must be in [0, {self.num_steps}), got {step}")
        state = ExposureState() if state is None else state
        global_image, global_hidden = self.global_net(image, step, state.global_hidden)
        edges, local_hidden = None, None
        if self.local_net is not None:
            local_input = torch.cat([rgb_to_grayscale(image), canny_edges((image + 1) / 2)], dim=1)
            edges, local_hidden = self.local_net(local_input, step, state.local_hidden)
        out = global_image
        if self.refine_net is not None and refine:
            out = self.refine_net(image, global_image, edges)
        return ExposureStep(out, global_image, edges, ExposureState(global_hidden, local_hidden))


class StackGenerator(nn.Module):
    """Single LDR image -> multi-exposure stack EV ``-num_steps .. +num_steps`` (paper Fig. 2).

    Separate stop-up and stop-down :class:`ExposureNet` s each run ``num_steps`` recursions from the input,
    feeding every step the previous generated image (or, with ``targets``, the ground-truth previous
    image: teacher forcing) and the carried GRU states. Public images are in [0, 1]; the sub-networks
    work in [-1, 1]. All components off (``use_refine=use_local=use_gru=use_cin=False``) gives the
    recursive plain U-Net baseline.

    With ``shift_residual`` (the default) the untrained generator outputs the analytic exposure stack
    ``clip(x * 2**(EV / 2.2), 0, 1)`` (:func:`ops.exposure.exposure_shift`, applied one stop per step);
    ``shift_residual=False`` is the paper's formulation.

    Without autograd on a multi-core CPU the stop-down direction runs in a worker thread while the stop-up one
    runs in the caller's (:func:`~lightning_modules.diffhdrsyn.model.concurrency.run_both`): same outputs.

    In eval mode, without ``targets``, the image gets a reflected ``margin`` on every side before the nets
    see it (:func:`ops.padding.mirror_pad`), and the outputs are cropped back. The U-Nets pad their
    convolutions with zeros; a trained generator answers the image border with a faint band 8-20 px
    inside it (a vertical one near the right border in the stop-up exposures, growing with each step; a
    horizontal one near the top in the stop-down ones), which the margin moves outside the crop. Training
    sees no margin: its crops' borders are not the photo's.

    Args:
        config: a :class:`~lightning_modules.diffhdrsyn.model.generator_config.GeneratorConfig`, or a width
            preset (``paper``, ``cpu``, ``tiny``) / :class:`GeneratorWidths` with the default switches.
        margin: reflected border added in eval mode (0: none); a multiple of half the size multiple, so
            that padded sizes stay multiples of it.
        switches: fields of :class:`GeneratorConfig` overriding ``config``'s (``num_steps``, ``use_gru``...).

    Example:
        >>> from ops.exposure import exposure_shift
        >>> ldr = torch.rand(1, 3, 32, 32)
        >>> stack = StackGenerator("tiny")(ldr)["stack"]
        >>> torch.allclose(stack[:, 6], exposure_shift(ldr, 3.0), atol=1e-6)
        True
    """

    def __init__(
        self, config: GeneratorConfig | str | GeneratorWidths = DEFAULT_GENERATOR, margin: int = 32, **switches: Any
    ) -> None:
        super().__init__()
        self.config = as_generator_config(config, switches)
        self.num_steps = self.config.num_steps
        self.up = ExposureNet(self.config, direction=1)
        self.down = ExposureNet(self.config, direction=-1)
        check_margin(margin, self.size_multiple)
        self.margin = margin

    @property
    def size_multiple(self) -> int:
        """H and W of the input must be multiples of this (``2**5`` for the global net)."""
        return self.up.global_net.trunk.multiple

    def check_input(self, ldr: torch.Tensor) -> None:
        """Raise ``TypeError`` / ``ValueError`` unless ``ldr`` is a float ``(B, 3, H, W)`` batch of at least one
        image with H and W positive multiples of :attr:`size_multiple`."""
        check_image(ldr, "ldr")
        check_shape(ldr, ["B", "3", "H", "W"])
        h, w = ldr.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"ldr's H and W must be multiples of {self.size_multiple}, got {h}x{w} "
                             "(pad it, e.g. with ops.padding.mirror_pad, or use hdrsyn.inference.reconstruct_image)")

    def _run(
        self,
        net: ExposureNet,
        image: torch.Tensor,
        previous: list[torch.Tensor] | None,
        refine: bool,
    ) -> list[ExposureStep]:
        """Recurse one direction; ``previous[k]`` (teacher forcing) replaces the input of step ``k >= 1``."""
        steps: list[ExposureStep] = []
        state = None
        for k in range(self.num_steps):
            if previous is not None and k > 0:
                image = previous[k]
            step = net(image, k, state, refine)
            image, state = step.image, step.state
            steps.append(step)
        return steps

    def _teacher_inputs(
        self, ldr: torch.Tensor, targets: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Inputs in [-1, 1] of each step of the stop-up and stop-down teacher-forced passes."""
        n = self.num_steps
        expected = (ldr.shape[0], 2 * n + 1, *ldr.shape[1:])
        if targets.shape != expected:
            raise ValueError(
                f"targets must have shape {expected} (B, 2*num_steps+1, 3, H, W), got {tuple(targets.shape)}"
            )
        scaled = targets * 2 - 1
        return [scaled[:, n + k] for k in range(n)], [scaled[:, n - k] for k in range(n)]

    def _outputs(
        self, ldr: torch.Tensor, up: list[ExposureStep], down: list[ExposureStep]
    ) -> dict[str, torch.Tensor]:
        """The output dictionary of :meth:`forward` from both directions' steps (EV -n..-1, then +1..+n)."""
        n = self.num_steps
        ordered = [*down[::-1], *up]
        generated = (torch.stack([s.image for s in ordered], dim=1) + 1) / 2
        out = {
            "stack": torch.cat([generated[:, :n], ldr[:, None], generated[:, n:]], dim=1),
            "global": (torch.stack([s.global_image for s in ordered], dim=1) + 1) / 2,
        }
        if ordered[0].edges is not None:
            out["edges"] = torch.stack([s.edges for s in ordered], dim=1)
        return out

    def forward(
        self, ldr: torch.Tensor, targets: torch.Tensor | None = None, refine: bool = True
    ) -> dict[str, torch.Tensor]:
        """Generate the stack from ``ldr`` ``(B, 3, H, W)`` in [0, 1].

        Args:
            ldr: input image, the centre (EV 0) of the stack; H and W multiples of :attr:`size_multiple`.
            targets: optional ground-truth stack ``(B, 2n+1, 3, H, W)`` in [0, 1], EV -n..+n, for teacher
                forcing: step ``k >= 1`` of each direction is fed the target at EV ``+-k`` instead of its
                own previous output (step 0 is always fed ``ldr``).
            refine: False skips the refinement nets (global outputs form the stack).

        Returns:
            ``stack`` ``(B, 2n+1, 3, H, W)`` in [0, 1] ordered EV -n..+n with ``ldr`` at index n;
            ``global`` ``(B, 2n, 3, H, W)`` global-net outputs in [0, 1] for EV -n..-1, +1..+n;
            ``edges`` ``(B, 2n, 1, H, W)`` predicted edge maps in the same order (only with the local net).
        """
        self.check_input(ldr)
        if self.margin and targets is None and not self.training:
            m, (h, w) = self.margin, ldr.shape[-2:]
            out = self._forward(mirror_pad(ldr, m, m, m, m), None, refine)
            return {key: value[..., m : m + h, m : m + w] for key, value in out.items()}
        return self._forward(ldr, targets, refine)

    def _forward(self, ldr: torch.Tensor, targets: torch.Tensor | None, refine: bool) -> dict[str, torch.Tensor]:
        """:meth:`forward` without the margin."""
        x = ldr * 2 - 1
        up_previous = down_previous = None
        if targets is not None:
            up_previous, down_previous = self._teacher_inputs(ldr, targets)
        up, down = run_both(lambda: self._run(self.up, x, up_previous, refine),
                            lambda: self._run(self.down, x, down_previous, refine), x)
        return self._outputs(ldr, up, down)

    def forward_pair(
        self, ldr: torch.Tensor, targets: torch.Tensor, refine: bool = True
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """``(forward(ldr), forward(ldr, targets))`` with step 0 of each direction computed once.

        Step 0 is fed ``ldr`` and no state in both passes, so its outputs are the same; sharing them
        saves one of the ``2 * num_steps`` steps per direction, and gradients through both passes add up
        on the shared step exactly as on two copies of it.
        """
        self.check_input(ldr)
        x = ldr * 2 - 1
        up_previous, down_previous = self._teacher_inputs(ldr, targets)
        up, up_teacher = self._run_pair(self.up, x, up_previous, refine)
        down, down_teacher = self._run_pair(self.down, x, down_previous, refine)
        return self._outputs(ldr, up, down), self._outputs(ldr, up_teacher, down_teacher)

    def _run_pair(
        self, net: ExposureNet, image: torch.Tensor, previous: list[torch.Tensor], refine: bool
    ) -> tuple[list[ExposureStep], list[ExposureStep]]:
        """:meth:`_run` without and with teacher forcing, each step ``k >= 1`` of both in one call.

        The two passes share step 0; from then on they use the same sub-networks and style with
        different inputs and states, so each of their steps runs as one batch of twice the size (every
        layer is per sample: convolutions, instance norm, GRU). Same values up to float rounding, half
        the calls, and small tensors use the cores better.
        """
        first = net(image, 0, None, refine)
        free, forced = [first], [first]
        size = image.shape[0]
        for k in range(1, self.num_steps):
            state = ExposureState(*(_cat(a, b) for a, b in zip(free[-1].state, forced[-1].state)))
            inputs = torch.cat([free[-1].image, previous[k]])
            free_step, forced_step = split_step(net(inputs, k, state, refine), size)
            free.append(free_step)
            forced.append(forced_step)
        return free, forced
