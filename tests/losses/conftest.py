import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    """Run the small tensors of these tests on one thread.

    Two OpenMP threads on tiny convolutions mostly wait on each other, badly so when the machine is
    busy (5x slower here); one thread keeps the suite at about 10 s.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
