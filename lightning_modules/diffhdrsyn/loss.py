"""Our objectives: the paper's per-sub-network losses, Eq. 4-7, assembled from the terms in ``losses``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from losses.edge import edge_loss
from losses.hdr import hdr_loss
from losses.histogram import histogram_loss


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
