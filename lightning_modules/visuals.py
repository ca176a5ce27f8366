"""Send pictures to whichever logger is configured (W&B, TensorBoard); others ignore them."""

from __future__ import annotations

import torch
from pytorch_lightning.loggers import Logger, TensorBoardLogger, WandbLogger
from pytorch_lightning.utilities import rank_zero_only


@rank_zero_only
def log_image(logger: Logger | None, key: str, image: torch.Tensor, step: int, caption: str | None = None) -> None:
    """Log a ``(3, H, W)`` image in [0, 1] (only rank 0 logs under DDP)."""
    picture = image.detach().clamp(0, 1).float().cpu()
    if isinstance(logger, WandbLogger):
        extra = {} if caption is None else {"caption": [caption]}
        logger.log_image(key=key, images=[picture.permute(1, 2, 0).numpy()], step=step, **extra)
    elif isinstance(logger, TensorBoardLogger):
        logger.experiment.add_image(key, picture, step)
