"""Gradient-centralised Adam (Yong et al. 2020), the paper's optimiser (Sec. 4.1)."""

from __future__ import annotations

from collections.abc import Callable

import torch


def centralize_gradient(grad: torch.Tensor) -> torch.Tensor:
    """Subtract from a weight gradient its mean over all dimensions but the first (in place)."""
    return grad.sub_(grad.mean(dim=tuple(range(1, grad.dim())), keepdim=True))


class GCAdam(torch.optim.Adam):
    """Adam applied to centralised gradients of every weight with more than one dimension (conv, linear).

    Biases and norm parameters (1-D) are left as they are, as in gradient centralisation's reference
    formulation. The closure runs first, so centralisation sees the fresh gradients.
    """

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None and param.grad.dim() > 1:
                    centralize_gradient(param.grad)
        super().step()
        return loss
