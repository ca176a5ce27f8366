"""Send pictures to whichever logger is configured (W&B, TensorBoard); others ignore them."""

from __future__ import annotations

import torch
from pytorch_lightning.loggers import Logger, TensorBoardLogger, WandbLogger
from pytorch_lightning.utilities import rank_zero_only


def stack_grid(stack: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    """A ``(N, 3, H, W)`` stack side by side as one ``(3, H, N W)`` picture, its target (if any) underneath."""
    rows = [stack] if target is None else [stack, target]
    return torch.cat([torch.cat(list(row.clamp(0, 1)), dim=-1) for row in rows], dim=-2)


@rank_zero_only
def log_image(logger: Logger | None, key: str, image: torch.Tensor, step: int, caption: str | None = None) -> None:
    """Log a ``(3, H, W)`` image in [0, 1] (only rank 0 logs under DDP)."""
    picture = image.detach().clamp(0, 1).float().cpu()
    if isinstance(logger, WandbLogger):
        extra = {} if caption is None else {"caption": [caption]}
        logger.log_image(key=key, images=[picture.permute(1, 2, 0).numpy()], step=step, **extra)
    elif isinstance(logger, TensorBoardLogger):
        logger.experiment.add_image(key, picture, step)
