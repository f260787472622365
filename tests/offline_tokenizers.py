"""Tokenizers built here, offline, with the tokenizers library, unlike the run's own BPE: a GPT-2-style
byte-level BPE with another EOS name, a Llama-3-style one (its Split pattern, digits in groups of 1-3,
ignore_merges, a BOS template), a WordPiece one; and generated unfamiliar text to train and test them on."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors, trainers

# Llama 3's tokenizer.json pre-tokenizer pattern (tiktoken's cl100k_base)
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SCRIPTS = [
    "abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "éèêëàâäôöüùçñíóáøåæßÉÀ",
    "абвгдежзиклмнопрстуфхцчшщыэюяЖЩ",
    "αβγδεζηθικλμνξοπρστυφχψωΩ",
    "東京日本語中文大学北京上海人民共和国",
    "ひらがなカタカナ",
    "한국어조선말",
    "العربيةحروف",
    "हिन्दीभाषा",
    "ภาษาไทย",
    "0123456789",
    "٠١٢٣٤٥٦٧٨٩",  # Arabic-Indic digits
    "½²³①",  # numbers that are not decimal digits
]
ODD = [
    "😀",
    "👍🏽",
    "👨‍👩‍👧",
    "🇫🇷",
    "\u200d",
    "\u00a0",
    "\u2028",
    "\u3000",
    "\u0085",
    "\x1c",
    "\x1f",
    "\x0b",
    "\x0c",
    "\r\n",
    "\t",
    "ſ",
    "K",
    "ﬅ",
    "İ",
    "'S",
    "'LL",
    "'ve",
    "’s",
    "e\u0301",
    "\ufeff",
    "\U000e0001",
    "\ue000",
    "\x00",
    "\x7f",
    "\u0558",
    "\u209d",  # letters of Unicode 16: the library's regex does not class them so
]
CODE = [
    "def f(x):\n    return x**2  # square\n",
    "for (int i = 0; i < n; ++i) { a[i] += 3; }",
    'print(f"{value!r:>10}")',
    "SELECT id, name FROM t WHERE x >= 1_000;",
    "\n\n\n    \t  \n",
    "x=1;y=22;z=333;w=4444;v=55555",
    "https://example.org/a?b=1&c=%20",
    "3.14159 -2e10 1,234,567.89 0x1F",
]


def unfamiliar_texts(count: int, seed: int = 0) -> list[str]:
    """Documents of words from many scripts, emoji, digits, code and whitespace runs."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(0, 40)):
            r = rng.random()
            if r < 0.55:
                script = rng.choice(SCRIPTS)
                parts.append("".join(rng.choices(script, k=rng.randint(1, 8))))
            elif r < 0.75:
                parts.append(rng.choice(ODD))
            elif r < 0.85:
                parts.append(rng.choice(CODE))
            else:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 9))))
            parts.append(rng.choice([" ", " ", " ", "", "  ", "\n", " \n\n", "\t", ", ", ". "]))
        texts.append("".join(parts))
    return texts


def byte_level_bpe(path: Path, texts: list[str], specials: list[str], vocab: int) -> Path:
    """A GPT-2-style byte-level BPE (the run's own BPE's pipeline) with its own special tokens."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.save(str(path))
    return path


def llama3_style(path: Path, texts: list[str], vocab: int = 700) -> Path:
    """Llama 3's pipeline, small: the Split pattern then ByteLevel without its regex, a BPE that takes
    a whole piece in its vocabulary as one token (ignore_merges), and a BOS before every document."""
    tokenizer = Tokenizer(models.BPE(ignore_merges=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", 0)]
            ),
        ]
    )
    tokenizer.save(str(path))
    return path


def wordpiece_dir(folder: Path, texts: list[str], eos: str = "[END]", vocab: int = 150) -> Path:
    """A Hugging Face tokenizer directory: a WordPiece tokenizer.json and a tokenizer_config.json
    naming ``eos`` as its eos_token."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab, special_tokens=["[UNK]", "[PAD]", eos], show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": eos}))
    return folder
