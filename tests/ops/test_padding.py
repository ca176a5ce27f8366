import torch

from ops.padding import mirror_pad


def test_mirror_pad_replicates_where_too_short_to_reflect():
    image = torch.rand(1, 3, 16, 40)
    out = mirror_pad(image, 16, 16, 16, 16)
    assert out.shape == (1, 3, 48, 72)
    torch.testing.assert_close(out[..., :16, 16:56], image[..., :1, :].expand(-1, -1, 16, -1))
    assert torch.equal(mirror_pad(image, 8, 8, 8, 8)[..., 8:24, :8], image[..., 1:9].flip(-1))


def test_mirror_pad_on_one_side_reflects_that_side_only():
    image = torch.rand(1, 1, 5, 7)
    out = mirror_pad(image, 0, 3, 0, 2)
    assert out.shape == (1, 1, 7, 10)
    assert torch.equal(out[..., :5, :7], image)
    assert torch.equal(out[..., :5, 7:], image[..., 3:6].flip(-1))
