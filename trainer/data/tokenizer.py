"""The tokenizer a run trains and exports with, and the EOS token that ends every document.

A tokenizer is a local ``tokenizer.json`` or Hugging Face tokenizer directory: nothing is downloaded.
Its EOS is, first found first: the one named (``train.tokenizer.eos``, ``critmix export --eos``), the
``eos_token`` of a ``tokenizer_config.json`` beside the tokenizer.json, or the first of ``EOS_NAMES``
it has. A token directory keeps the EOS it was tokenized with in its own ``tokenizer_config.json``
beside its ``tokenizer.json`` (trainer/data/tokenize.py), which is where training reads it.

The loaded tokenizer never truncates or pads: a tokenizer.json saved with a ``max_length`` would
otherwise cut every document at it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tokenizers import Tokenizer

from core.errors import ConfigError
from core.files import atomic_write_bytes

# The EOS tokens of common tokenizers: GPT-2's and the run's own BPE's, Llama 3's, Llama 2's and T5's, Gemma's.
EOS_NAMES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|eos|>")


@dataclasses.dataclass(frozen=True)
class Keys:
    """Where the user names the tokenizer and its EOS, for the errors to say."""

    path: str
    eos: str


TRAIN_KEYS = Keys("train.tokenizer.path", "train.tokenizer.eos")


@dataclasses.dataclass(frozen=True)
class Eos:
    token: str
    id: int


def tokenizer_file(path: str | Path, keys: Keys) -> Path:
    path = Path(path)
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(
            f"{keys.path} {path}: no tokenizer.json there; give a local tokenizer.json or tokenizer "
            "directory (nothing is downloaded)"
        )
    return file


def load_tokenizer(file: Path) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(file))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def configured_eos(config: Path) -> str | None:
    """The ``eos_token`` a ``tokenizer_config.json`` names (a string or an AddedToken dict), if any."""
    if not config.is_file():
        return None
    eos = json.loads(config.read_text()).get("eos_token")
    return eos.get("content") if isinstance(eos, dict) else eos


def special_tokens(tokenizer: Tokenizer) -> list[str]:
    return sorted(t.content for t in tokenizer.get_added_tokens_decoder().values() if t.special)


def find_eos(tokenizer: Tokenizer, file: Path, named: str, keys: Keys, beside: bool = True) -> Eos:
    """The EOS of ``tokenizer`` (read from ``file``), ``named`` if given; see the module docstring.
    ``beside=False`` skips the tokenizer_config.json beside ``file``."""
    config = file.with_name("tokenizer_config.json")
    chosen: str | None
    if named:
        chosen, where = named, keys.eos
    else:
        chosen, where = configured_eos(config) if beside else None, f"eos_token of {config}"
    if chosen is not None:
        if (eos_id := tokenizer.token_to_id(chosen)) is None:
            raise ConfigError(
                f"{where} {chosen!r}: the tokenizer {file} has no such token; set {keys.eos} to one of "
                f"its special tokens ({', '.join(special_tokens(tokenizer)) or 'it has none'})"
            )
        return Eos(chosen, eos_id)
    for name in EOS_NAMES:
        if (eos_id := tokenizer.token_to_id(name)) is not None:
            return Eos(name, eos_id)
    raise ConfigError(
        f"{keys.path} {file}: no EOS token found (no eos_token in a tokenizer_config.json beside it, "
        f"none of {', '.join(EOS_NAMES)}); set {keys.eos} to the token that ends its documents "
        f"(its special tokens: {', '.join(special_tokens(tokenizer)) or 'none'})"
    )


def save_eos(tokens_dir: Path, eos: Eos) -> None:
    """Record the token directory's EOS beside its tokenizer.json, where ``find_eos`` reads it."""
    config = {"eos_token": eos.token}
    atomic_write_bytes(tokens_dir / "tokenizer_config.json", json.dumps(config).encode() + b"\n")


def tokens_eos(tokens_dir: Path, tokenizer: Tokenizer) -> Eos:
    """The EOS a token directory was tokenized with."""
    return find_eos(tokenizer, tokens_dir / "tokenizer.json", "", TRAIN_KEYS)
