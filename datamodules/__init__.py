"""Data: exposure-stack datasets (bundled sample, VDS, HDR-Eye) and their Lightning data module.

Layer 4: imports the ``hdrsyn`` library (image I/O, rendering, the VDS layout) and ``ops``; never
``lightning_modules`` or a command-line tool.
"""

from datamodules.base import StackDataset
from datamodules.hdr_eye import HDREyeDataset, scan_hdr_eye
from datamodules.hdr_stack import HDRStackDataModule
from datamodules.sample import SampleDataset, SampleOptions
from datamodules.scenes import BadSceneError, DatasetNotFoundError
from datamodules.vds import VDSDataset, scan_vds

__all__ = [
    "BadSceneError",
    "DatasetNotFoundError",
    "HDREyeDataset",
    "HDRStackDataModule",
    "SampleDataset",
    "SampleOptions",
    "StackDataset",
    "VDSDataset",
    "scan_hdr_eye",
    "scan_vds",
]
