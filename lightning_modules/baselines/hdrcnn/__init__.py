"""HDRCNN (Eilertsen et al. 2017): the network (:mod:`.model`), its loss (:mod:`.loss`) and the
LightningModule that trains and evaluates it (:mod:`.module`).

The LightningModule's class path is ``lightning_modules.baselines.hdrcnn.HDRCNNBaseline`` (configs,
checkpoints), its module where it is defined a detail.
"""

from lightning_modules.baselines.hdrcnn.loss import hdrcnn_loss
from lightning_modules.baselines.hdrcnn.model import HDRCNN, HDRCNNOutput, HDRCNNRadiance, saturation_mask
from lightning_modules.baselines.hdrcnn.module import HDRCNNBaseline

HDRCNNBaseline.__module__ = __name__  # the class path written into configs and checkpoints

__all__ = ["HDRCNN", "HDRCNNBaseline", "HDRCNNOutput", "HDRCNNRadiance", "hdrcnn_loss", "saturation_mask"]
