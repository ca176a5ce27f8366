"""Our objectives: the paper's per-sub-network losses, Eq. 4-7, assembled from the terms in ``losses``,
and :class:`JointObjective`, the whole of Eq. 4-7 for the joint stage (the HDR term's scale included)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from losses.edge import edge_loss
from losses.hdr import clipped_hdr_loss, clipped_mask, hdr_loss
from losses.histogram import histogram_loss

#: How the synthesised HDR's global scale meets the ground truth's in the HDR loss (:class:`JointObjective`).
HDR_SCALES = ("log_mean", "crf_max")


def without_centre(stack: torch.Tensor) -> torch.Tensor:
    """The generated part of a ``(B, 2n+1, ...)`` stack: ``(B, 2n, ...)`` with the input (EV 0) removed."""
    n = stack.shape[1] // 2
    return torch.cat([stack[:, :n], stack[:, n + 1 :]], dim=1)


def global_objective(
    pred: torch.Tensor, target: torch.Tensor, lambda_l1: float = 1.0, lambda_hist: float = 0.1, bins: int = 256
) -> dict[str, torch.Tensor]:
    """Eq. 4: ``lambda1 L1 + lambda2 L_hist`` on the global network's images ``(B, E, 3, H, W)``."""
    l1 = F.l1_loss(pred, target)
    hist = histogram_loss(pred, target, bins) if lambda_hist else pred.new_zeros(())
    return {"global_l1": l1, "global_hist": hist, "global": lambda_l1 * l1 + lambda_hist * hist}


def local_objective(pred_edges: torch.Tensor, target_edges: torch.Tensor, lambda_edge: float = 1.0
                    ) -> dict[str, torch.Tensor]:
    """Eq. 5: ``lambda3 L_edge`` between predicted edge maps and the target images' Canny edge maps
    (``batch["edges"]`` without the input's)."""
    edge = edge_loss(pred_edges, target_edges)
    return {"local_edge": edge, "local": lambda_edge * edge}


def refine_objective(
    pred: torch.Tensor,
    target: torch.Tensor,
    pred_hdr: torch.Tensor | None = None,
    target_hdr: torch.Tensor | None = None,
    cobi: torch.nn.Module | None = None,
    lambda_l1: float = 1.0,
    lambda_hdr: float = 1.0,
    lambda_cobi: float = 0.1,
    mu: float = 5000.0,
) -> dict[str, torch.Tensor]:
    """Eq. 6-7: ``lambda4 L1 + lambda5 L_HDR + lambda6 L_CoBi`` on the refined images ``(B, E, 3, H, W)``.

    The HDR term needs the synthesised and ground-truth HDR images; CoBi needs a :class:`CoBiLoss`.
    Terms whose inputs are not given are left out.
    """
    out = {"refine_l1": F.l1_loss(pred, target)}
    total = lambda_l1 * out["refine_l1"]
    if pred_hdr is not None and target_hdr is not None and lambda_hdr:
        out["hdr"] = hdr_loss(pred_hdr, target_hdr, mu)
        total = total + lambda_hdr * out["hdr"]
    if cobi is not None and lambda_cobi:
        out["cobi"] = cobi(pred.flatten(0, 1), target.flatten(0, 1))
        total = total + lambda_cobi * out["cobi"]
    out["refine"] = total
    return out


def log_mean_scale(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Detached per-image factor ``exp(mean ln target - mean ln pred)`` bringing ``pred`` to ``target``'s scale."""
    log_ratio = (target.clamp_min(eps).log() - pred.detach().clamp_min(eps).log()).mean(dim=(1, 2, 3), keepdim=True)
    return log_ratio.exp()


@dataclass(frozen=True)
class JointObjective:
    """The joint stage's loss, Eq. 4-7: Eq. 4 (global) + Eq. 5 (local, when the pass has edges) + Eq. 6-7
    (refinement: L1, HDR, CoBi) on one pass of the generator.

    The HDR term (autoregressive passes only, with ``use_hdr_layer``) compares the radiance that
    ``synthesize(stack, batch)`` (the differentiable HDR layer, Eq. 1-3) merges from the generated stack,
    brought to the ground truth's scale (:meth:`scaled`), with ``batch["hdr"]``.

    Args:
        synthesize: ``(stack, batch) -> radiance (B, 3, H, W)``, the HDR synthesis layer.
        cobi: the CoBi loss module (None: no CoBi term).
        lambda_l1, lambda_hist, lambda_edge, lambda_refine, lambda_hdr, lambda_cobi: lambda1..lambda6 of
            Eq. 4-7 (paper: 1, 0.1, 1, 1, 1, 0.1).
        mu: mu-law compression of the HDR loss.
        use_refine: the generator has refinement networks (their L1 / CoBi terms).
        use_hdr_layer: add the HDR term.
        hdr_scale: ``"log_mean"`` multiplies the synthesised HDR by the detached :func:`log_mean_scale`
            factor; ``"crf_max"`` uses the layer's own scale.
        lambda_clipped: weight of our clipped-region term (:func:`~losses.hdr.clipped_hdr_loss`, in stops,
            inside the input's :func:`~losses.hdr.clipped_mask`) on the same synthesised HDR; 0: off.
    """

    synthesize: Callable[[torch.Tensor, dict], torch.Tensor]
    cobi: torch.nn.Module | None = None
    lambda_l1: float = 1.0
    lambda_hist: float = 0.1
    lambda_edge: float = 1.0
    lambda_refine: float = 1.0
    lambda_hdr: float = 1.0
    lambda_cobi: float = 0.1
    mu: float = 5000.0
    use_refine: bool = True
    use_hdr_layer: bool = True
    hdr_scale: str = "log_mean"
    lambda_clipped: float = 0.0

    def __post_init__(self) -> None:
        if self.hdr_scale not in HDR_SCALES:
            raise ValueError(f"hdr_scale must be 'log_mean' or 'crf_max', got {self.hdr_scale!r}")

    def __call__(self, out: dict[str, torch.Tensor], batch: dict, teacher: bool) -> dict[str, torch.Tensor]:
        """The terms and their weighted sum (``"total"``) on the generator's output ``out`` of one pass
        (``teacher``: the teacher-forced pass, which has no HDR term)."""
        target = without_centre(batch["stack"])
        parts = global_objective(out["global"], target, self.lambda_l1, self.lambda_hist)
        total = parts["global"]
        if "edges" in out:
            parts.update(local_objective(out["edges"], without_centre(batch["edges"]), self.lambda_edge))
            total = total + parts["local"]
        pred_hdr = None
        if self.use_hdr_layer and not teacher:
            pred_hdr = self.scaled(self.synthesize(out["stack"], batch), batch["hdr"])
        if self.use_refine or pred_hdr is not None:
            parts.update(refine_objective(
                without_centre(out["stack"]), target, pred_hdr, batch["hdr"], self.cobi,
                self.lambda_refine, self.lambda_hdr, self.lambda_cobi, self.mu,
            ))
            total = total + parts["refine"]
        if pred_hdr is not None and self.lambda_clipped:
            parts["clipped"] = clipped_hdr_loss(pred_hdr, batch["hdr"], clipped_mask(batch["ldr"]))
            total = total + self.lambda_clipped * parts["clipped"]
        parts["total"] = total
        return parts

    def scaled(self, radiance: torch.Tensor, hdr: torch.Tensor) -> torch.Tensor:
        """The synthesised HDR at the scale the HDR loss compares it with the ground truth ``hdr``."""
        return radiance * log_mean_scale(radiance, hdr) if self.hdr_scale == "log_mean" else radiance

    def hdr_term(self, radiance: torch.Tensor, hdr: torch.Tensor) -> torch.Tensor:
        """The unweighted HDR loss of a synthesised ``radiance`` against ``hdr`` (at :meth:`scaled`'s scale)."""
        return hdr_loss(self.scaled(radiance, hdr), hdr, self.mu)
