"""Opt-in ``torch.compile`` of the stack generator's U-Nets."""

from __future__ import annotations

from lightning_modules.diffhdrsyn.model.stack_generator import StackGenerator


def compile_subnets(generator: StackGenerator, backend: str = "inductor", mode: str | None = None) -> StackGenerator:
    """Compile the global, local and refinement U-Nets of both directions in place; returns ``generator``.

    Each U-Net is compiled with :meth:`torch.nn.Module.compile`, so parameter names and checkpoints stay
    those of the eager model. Canny (OpenCV on CPU) and the recursion between steps stay eager: graphs are
    the pure convolutional networks, compiled on their first calls (one per step shape and state).

    Args:
        generator: the generator to compile.
        backend: ``torch.compile`` backend (``inductor``; ``aot_eager`` compiles in seconds, for checks).
        mode: ``torch.compile`` mode (None, ``reduce-overhead``, ``max-autotune``).
    """
    if not isinstance(generator, StackGenerator):
        raise TypeError(f"generator must be a StackGenerator, got {type(generator).__name__}")
    for direction in (generator.up, generator.down):
        for net in (direction.global_net, direction.local_net, direction.refine_net):
            if net is not None:
                net.compile(backend=backend, mode=mode)
    return generator
