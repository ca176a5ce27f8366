"""ExpandNet (Marnerides et al. 2018): the network (:mod:`.model`), its loss (:mod:`.loss`) and the
LightningModule that trains and evaluates it (:mod:`.module`).

The LightningModule's class path is ``lightning_modules.baselines.expandnet.ExpandNetBaseline`` (configs,
checkpoints), its module where it is defined a detail.
"""

from lightning_modules.baselines.expandnet.loss import expandnet_loss, max_normalize
from lightning_modules.baselines.expandnet.model import ExpandNet
from lightning_modules.baselines.expandnet.module import ExpandNetBaseline

ExpandNetBaseline.__module__ = __name__  # the class path written into configs and checkpoints

__all__ = ["ExpandNet", "ExpandNetBaseline", "expandnet_loss", "max_normalize"]
