"""One GeneratorConfig carries the generator's switches from the stages to the networks and back."""

from __future__ import annotations

import pytest
import torch

from lightning_modules.diffhdrsyn import (
    DEFAULT_GENERATOR,
    GeneratorConfig,
    GlobalStage,
    JointStage,
    LocalStage,
    StackGenerator,
)


def test_a_config_a_preset_and_switches_build_the_same_generator() -> None:
    config = GeneratorConfig(width="tiny", num_steps=2, use_gru=False, shift_residual=False, clip_headroom=False)
    torch.manual_seed(0)
    from_config = StackGenerator(config)
    torch.manual_seed(0)
    from_switches = StackGenerator("tiny", num_steps=2, use_gru=False, shift_residual=False, clip_headroom=False)
    assert from_config.config == from_switches.config == config
    for (name, a), (_, b) in zip(from_config.state_dict().items(), from_switches.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("stage", [GlobalStage, LocalStage, JointStage])
def test_stage_defaults_are_the_configs_and_round_trip_through_hparams(stage: type) -> None:
    module = stage(width="tiny", use_cin=False) if stage is not JointStage else stage(
        width="tiny", use_cin=False, lambda_cobi=0.0)
    config = GeneratorConfig.from_hparams(module.hparams)
    assert config.use_cin is False and config.num_steps == DEFAULT_GENERATOR.num_steps
    assert module.generator.config.use_cin is False and module.generator.config.width == "tiny"
    if stage is JointStage:
        assert module.generator.config == config


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="num_steps must be >= 1, got 0"):
        GeneratorConfig(num_steps=0)
    with pytest.raises(ValueError, match="unknown width preset"):
        GeneratorConfig(width="huge")
    with pytest.raises(TypeError):
        GeneratorConfig.from_hparams({}).replace(colour=True)


def test_down_context_adds_global_context_to_the_stop_down_nets_only() -> None:
    from lightning_modules.diffhdrsyn.model import StackGenerator

    plain = StackGenerator(GeneratorConfig(width="tiny"))
    context = StackGenerator(GeneratorConfig(width="tiny", down_context=True))
    added = set(dict(context.named_parameters())) - set(dict(plain.named_parameters()))
    assert added and all(name.startswith(("down.global_net.trunk.context", "down.refine_net.trunk.context"))
                         for name in added)
    assert {name.split(".")[1] for name in added} == {"global_net", "refine_net"}
    x = torch.rand(1, 3, 64, 64)
    context.load_state_dict({**plain.state_dict(), **{k: v for k, v in context.state_dict().items() if k in added}})
    plain.eval(), context.eval()
    with torch.no_grad():  # the blocks start as the identity: the same stack as without them
        assert torch.allclose(context(x)["stack"], plain(x)["stack"], atol=1e-6)
