"""Deep recursive HDRI (Lee et al. 2018): the generators and discriminator (:mod:`.model`), the
least-squares GAN loss (:mod:`.loss`) and the LightningModule that trains and evaluates them (:mod:`.module`).

The LightningModule's class path is
``lightning_modules.baselines.deep_recursive_hdri.DeepRecursiveHDRIBaseline`` (configs, checkpoints), its
module where it is defined a detail.
"""

from lightning_modules.baselines.deep_recursive_hdri.loss import lsgan_loss
from lightning_modules.baselines.deep_recursive_hdri.model import DeepRecursiveHDRI, ExposureUNet, PatchDiscriminator
from lightning_modules.baselines.deep_recursive_hdri.module import DeepRecursiveHDRIBaseline

DeepRecursiveHDRIBaseline.__module__ = __name__  # the class path written into configs and checkpoints

__all__ = ["DeepRecursiveHDRI", "DeepRecursiveHDRIBaseline", "ExposureUNet", "PatchDiscriminator", "lsgan_loss"]
