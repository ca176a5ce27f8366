"""Differentiable HDR operators: CRF recovery, linearisation, merge, tone mapping, edges, exposure shift.

Layer 1, the bottom: tensors only (torch, kornia, numpy); imports nothing else of this project.
"""

from ops.crf import hat_weights, sample_grossberg, sample_spatial, solve_debevec
from ops.edges import CannyEdges, canny_edges
from ops.exposure import ExposureShift, exposure_shift, exposure_stack
from ops.hdr_synthesis import HDRSynthesis, synthesize_hdr
from ops.linearize import LogInverseCRF, apply_log_inverse_crf
from ops.merge import merge_log_radiance
from ops.tonemap import MuLaw, ReinhardGlobal, gamma_encode, luminance, mu_law, reinhard_global

__all__ = [
    "CannyEdges",
    "ExposureShift",
    "HDRSynthesis",
    "LogInverseCRF",
    "MuLaw",
    "ReinhardGlobal",
    "apply_log_inverse_crf",
    "canny_edges",
    "exposure_shift",
    "exposure_stack",
    "gamma_encode",
    "hat_weights",
    "luminance",
    "merge_log_radiance",
    "mu_law",
    "reinhard_global",
    "sample_grossberg",
    "sample_spatial",
    "solve_debevec",
    "synthesize_hdr",
]
