"""Presets and the one size knob, held to golden parameter counts (built on the meta device: no memory)."""

import pytest
import torch

from core.errors import ConfigError
from trainer.config import ModelConfig
from trainer.model import build_model, llama_config


def parameters(preset: str, vocab: int, hidden: int = 0) -> int:
    with torch.device("meta"):
        return sum(
            p.numel()
            for p in build_model(ModelConfig(preset=preset, hidden=hidden), vocab).parameters()
        )


@pytest.mark.parametrize(
    "preset, vocab, expected",
    [
        ("tiny", 4096, 1_377_408),  # the demo model of reference/cmr-law.md, 1.38M
        ("125m", 50304, 123_587_328),  # GPT-2 small's size at its (padded) vocabulary
        ("350m", 50304, 359_842_816),
    ],
)
def test_presets_have_their_golden_sizes(preset, vocab, expected):
    assert parameters(preset, vocab) == expected


def test_width_alone_derives_depth_heads_and_ffn():
    config = llama_config(ModelConfig(hidden=320), 4096)
    # nearest preset width is small's 256 -> 6 layers; head size 64 -> 5 heads; 8/3 x 320 rounded up to 128 -> 896
    assert (config.num_hidden_layers, config.num_attention_heads, config.intermediate_size) == (
        6,
        5,
        896,
    )


def test_a_width_the_heads_do_not_divide_is_a_config_error():
    with pytest.raises(ConfigError, match="multiple of 64"):
        llama_config(ModelConfig(hidden=300), 4096)
