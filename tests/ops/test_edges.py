import pytest
import torch

from ops.edges import canny_edges


def test_step_edge_is_found_once() -> None:
    image = torch.zeros(1, 3, 32, 32)
    image[..., 16:] = 1.0
    edges = canny_edges(image, sigma=2.0)
    assert edges.shape == (1, 1, 32, 32)
    columns = edges[0, 0, 8:24].nonzero()[:, 1].unique()
    assert len(columns) == 1 and abs(columns.item() - 15.5) <= 1
    assert canny_edges(torch.full((1, 1, 32, 32), 0.5)).sum() == 0


def test_bad_input_is_rejected() -> None:
    with pytest.raises(Exception, match="B, 3, H, W"):
        canny_edges(torch.rand(1, 2, 8, 8))
