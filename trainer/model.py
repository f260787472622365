"""Llama models from named presets: ``build_model(model_config, vocab_size, eos_id)``.

One size knob: ``hidden`` (the width). Heads keep a head size of 64 (32 below width 256), the SwiGLU FFN
is 8/3 of the width rounded up to 128 (GPT-2-small's parameter count at width 768), and the depth comes from the preset (or, for a custom width, from the nearest preset).
"""

from __future__ import annotations

from transformers import LlamaConfig, LlamaForCausalLM

from core.errors import ConfigError
from trainer.config import ModelConfig

# width -> layers; `tiny` is the demo-scale model of reference/cmr-law.md (1.38M params at vocab 4096).
PRESETS = {
    "tiny": (128, 4),
    "small": (256, 6),
    "base": (512, 8),
    "125m": (768, 12),
    "350m": (1024, 24),
}


def llama_config(model: ModelConfig, vocab_size: int, eos_id: int = 0) -> LlamaConfig:
    """``eos_id``: the tokenizer's EOS (0 in the run's own BPE), which also pads."""
    if model.preset not in PRESETS:
        raise ConfigError(f"train.model.preset: {model.preset!r} is not one of {list(PRESETS)}")
    width, layers = PRESETS[model.preset]
    if model.hidden:
        width = model.hidden
        layers = min(PRESETS.values(), key=lambda p: abs(p[0] - width))[1]
    head_dim = 64 if width >= 256 else 32
    if width % head_dim:
        raise ConfigError(f"train.model.hidden: {width} must be a multiple of {head_dim}")
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=width,
        num_hidden_layers=layers,
        num_attention_heads=width // head_dim,
        num_key_value_heads=width // head_dim,
        intermediate_size=-(-8 * width // 3 // 128) * 128,
        max_position_embeddings=model.seq_len,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )


def build_model(model: ModelConfig, vocab_size: int, eos_id: int = 0) -> LlamaForCausalLM:
    config = llama_config(model, vocab_size, eos_id)
    config._attn_implementation = model.attention
    return LlamaForCausalLM(config)
