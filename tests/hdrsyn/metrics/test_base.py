"""Each ``Metric`` is its functional form, accumulated per image: one definition per score."""

from __future__ import annotations

import pytest
import torch

from hdrsyn.metrics import (
    PU21PSNR,
    PU21SSIM,
    LogPSNR,
    MuLawPSNR,
    StackMetrics,
    log_psnr,
    mu_law_psnr,
    pu21_psnr,
    pu21_ssim,
    stack_scores,
)

PAIRS = [(MuLawPSNR, mu_law_psnr), (LogPSNR, log_psnr), (PU21PSNR, pu21_psnr), (PU21SSIM, pu21_ssim)]


@pytest.mark.parametrize(("metric_cls", "functional"), PAIRS, ids=lambda x: getattr(x, "__name__", ""))
def test_metric_equals_its_functional_form(metric_cls, functional, hdr_pair) -> None:
    pred, target = hdr_pair
    metric = metric_cls()
    metric.update(pred[:2], target[:2])
    metric.update(pred[2:], target[2:])
    torch.testing.assert_close(metric.per_image(), functional(pred, target), rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore:MS-SSIM on")
def test_stack_metrics_equal_the_functional_form(stacks) -> None:
    preds, target = stacks
    metric = StackMetrics()
    metric.update(preds, target)
    for name, values in stack_scores(preds, target).items():
        torch.testing.assert_close(metric.per_image()[name], values, rtol=0, atol=0)


def test_functional_forms_check_their_inputs(hdr_pair) -> None:
    pred, target = hdr_pair
    with pytest.raises(ValueError, match="shapes differ"):
        pu21_psnr(pred[:, :, :10], target)
    with pytest.raises(ValueError, match="mu"):
        mu_law_psnr(pred, target, mu=-1)
