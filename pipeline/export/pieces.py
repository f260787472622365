"""Encoding a batch of documents a distinct pre-token at a time, for the tokenizers whose pipeline
allows it: the ids equal the library's encode's, or the documents go through the library.

A byte-level BPE tokenizer with no normalizer (the run's own BPE, GPT-2's, Llama 3's) splits a text
with a regex (GPT-2's pattern in its ByteLevel pre-tokenizer, or a Split pre-tokenizer's, as Llama 3's
digits in groups of 1-3) and runs BPE on each piece alone, so a piece's ids do not depend on its
neighbours. The pieces of the batch are split here with Python's ``regex``, the distinct ones (tens
of thousands among millions) encoded once by the tokenizer's model alone, and every document's ids
gathered from them with numpy; the post-processor's special tokens (a BOS) go around each. The
library's whole-document encode spends most of its time building a per-token Encoding.

What is certain to split alike: the two regex engines (Python's ``regex``, the library's Oniguruma)
may class a character differently (``\\s`` holds U+001C-U+001F for one and not the other; Unicode
versions differ; ``(?i:'s)`` folds case), so every character of the batch is first checked, once
per encoder: its splits in a probe of the contexts the patterns distinguish (next to letters, digits,
itself, punctuation, line ends, after an apostrophe) must be the library's own. A document with a
character that fails, or with an added token's text (the library matches those first), goes through
the library, as every document does when the pipeline is not one of these (``fallback`` says why)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import regex
from tokenizers import Tokenizer

# tokenizers' ByteLevel pre-tokenizer pattern (pre_tokenizers/byte_level.rs)
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# where a character's class shows in a split: letter, digit, whitespace, line end, contraction
PROBE_CONTEXTS = ("a{0}a", "1{0}1", "'{0}", "{0}{0}", "!{0}!", "\n{0}\r\n", "{0}  x", " {0}\n\n")
PROBE_BATCH = 256  # characters probed in one library call (halved where one of them differs)


def byte_level_chars() -> str:
    """GPT-2's bytes_to_unicode: the character ByteLevel maps each byte to, indexed by byte."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    shifted = iter(range(256, 512))
    return "".join(chr(b) if b in printable else chr(next(shifted)) for b in range(256))


# a piece's UTF-8 bytes, read as latin-1, translate to its byte-level characters
BYTE_LEVEL = str.maketrans({chr(b): c for b, c in enumerate(byte_level_chars())})


def split_pattern(spec: dict) -> tuple[str | None, str]:
    """The regex whose pieces the tokenizer encodes each alone, or None and why it cannot be used."""
    pre = spec.get("pre_tokenizer") or {}
    model = spec.get("model") or {}
    if spec.get("normalizer") is not None:
        return None, f"it has a normalizer ({spec['normalizer'].get('type')})"
    if model.get("type") != "BPE" or model.get("dropout"):
        return (
            None,
            f"its model is {model.get('type')}{' with dropout' if model.get('dropout') else ''}",
        )
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True):
        if pre.get("add_prefix_space"):
            return None, "its ByteLevel pre-tokenizer adds a prefix space"
        return GPT2_PATTERN, ""
    steps = pre.get("pretokenizers", [])
    if pre.get("type") == "Sequence" and len(steps) == 2:
        split, byte_level = steps
        if (
            split.get("type") == "Split"
            and "Regex" in split.get("pattern", {})
            and split.get("behavior") == "Isolated"
            and not split.get("invert")
            and byte_level
            == dict(byte_level, type="ByteLevel", add_prefix_space=False, use_regex=False)
        ):
            pattern = split["pattern"]["Regex"]
            try:
                regex.compile(pattern)
            except regex.error as err:
                return None, f"Python's regex cannot compile its Split pattern ({err})"
            return pattern, ""
    return None, f"its pre-tokenizer is not a byte-level regex split ({json.dumps(pre)[:120]})"


def template(tokenizer: Tokenizer) -> tuple[list[int], list[int]] | None:
    """The special tokens the post-processor puts before and after a document's ids, if it only does that."""
    found = None
    for probe in ("a", "b c 1"):
        plain = tokenizer.encode(probe, add_special_tokens=False).ids
        full = tokenizer.encode(probe).ids
        starts = [k for k in range(len(full) - len(plain) + 1) if full[k : k + len(plain)] == plain]
        if not starts:
            return None
        around = (full[: starts[0]], full[starts[0] + len(plain) :])
        if found not in (None, around):
            return None
        found = around
    return found


def model_alone(tokenizer: Tokenizer) -> Tokenizer:
    """The tokenizer's model with nothing around it: its whole input is one piece."""
    spec = json.loads(tokenizer.to_str())
    spec.update(normalizer=None, pre_tokenizer=None, post_processor=None, decoder=None)
    spec.update(added_tokens=[], truncation=None, padding=None)
    return Tokenizer.from_str(json.dumps(spec))


class PieceEncoder:
    """Encodes documents, each followed by ``eos_id``, into one token array and their lengths."""

    def __init__(self, tokenizer: Tokenizer, eos_id: int):
        self.tokenizer = tokenizer
        self.eos_id = eos_id
        pattern, self.fallback = split_pattern(json.loads(tokenizer.to_str()))
        around = template(tokenizer) if pattern else None
        if pattern and around is None:
            pattern, self.fallback = None, "its post-processor does more than add special tokens"
        self.by_piece = pattern is not None
        if self.by_piece:
            self.split = regex.compile(pattern)
            self.prefix, self.suffix = around  # type: ignore[misc]
            self.model = model_alone(tokenizer)
        added = [token.content for token in tokenizer.get_added_tokens_decoder().values()]
        self.added = regex.compile("|".join(map(regex.escape, added))) if added else None
        self.agreed: set[str] = set()  # characters the library splits as ``self.split`` does
        self.differ: set[str] = set()  # and those it does not
        self.documents = self.whole = (
            0  # encoded, and of them by the library's whole-document encode
        )

    def summary(self) -> str:
        """How many documents the library encoded whole, and why."""
        done = f"{self.whole:,} of {self.documents:,} documents encoded whole by the library"
        if self.fallback or not self.whole:
            return f"{done}{': ' + self.fallback if self.fallback else ''}"
        odd = "".join(sorted(self.differ))
        return f"{done}: they hold characters its regex classes otherwise ({odd!r}) or an added token's text"

    def library_agrees(self, text: str) -> bool:
        pieces = [
            p.encode().decode("latin-1").translate(BYTE_LEVEL) for p in self.split.findall(text)
        ]
        return pieces == [p for p, _ in self.tokenizer.pre_tokenizer.pre_tokenize_str(text)]

    def check_chars(self, chars: list[str]) -> None:
        """Sort ``chars`` into ``agreed`` and ``differ`` by their probes (halving a batch that differs)."""
        probe = " ".join(context.format(c) for c in chars for context in PROBE_CONTEXTS)
        if self.library_agrees(probe):
            self.agreed.update(chars)
        elif len(chars) == 1:
            self.differ.update(chars)
        else:
            half = len(chars) // 2
            self.check_chars(chars[:half])
            self.check_chars(chars[half:])

    def by_piece_documents(self, texts: list[str]) -> list[int]:
        """The documents certain to split here as in the library (see the module docstring)."""
        if not self.by_piece:
            return []
        new = sorted(set("".join(texts)) - self.agreed - self.differ)
        for start in range(0, len(new), PROBE_BATCH):
            self.check_chars(new[start : start + PROBE_BATCH])
        return [
            i
            for i, text in enumerate(texts)
            if self.differ.isdisjoint(text) and not (self.added and self.added.search(text))
        ]

    def encode(self, texts: list[str], dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """All the documents' tokens, concatenated, and each one's length (its EOS included)."""
        by_piece = self.by_piece_documents(texts)
        chosen = set(by_piece)
        rest = [i for i in range(len(texts)) if i not in chosen]
        self.documents, self.whole = self.documents + len(texts), self.whole + len(rest)
        encoded: dict[int, np.ndarray] = {}
        if by_piece:
            tokens, lengths = self.encode_pieces([texts[i] for i in by_piece])
            ends = np.cumsum(lengths)
            encoded.update(zip(by_piece, np.split(tokens, ends[:-1])))
        for i, e in zip(rest, self.tokenizer.encode_batch_fast([texts[i] for i in rest])):
            encoded[i] = np.array(e.ids + [self.eos_id], dtype=np.int64)
        documents = [encoded[i] for i in range(len(texts))]
        lengths = np.array([len(d) for d in documents], dtype=np.int64)
        return np.concatenate(documents).astype(dtype), lengths

    def encode_pieces(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each text's ids: the template's prefix (the piece ``False``), its pieces' ids, then the
        suffix and EOS (the piece ``None``), gathered from the distinct pieces."""
        split = [[False, *self.split.findall(text), None] for text in texts]
        flat_pieces = list(itertools.chain.from_iterable(split))
        # the distinct pieces, first seen first, the prefix and end first of all
        distinct = dict.fromkeys(itertools.chain([False, None], flat_pieces))
        index = {p: i for i, p in enumerate(distinct)}
        indices = np.fromiter(map(index.__getitem__, flat_pieces), np.int64, len(flat_pieces))
        pieces = [p.encode().decode("latin-1").translate(BYTE_LEVEL) for p in list(distinct)[2:]]
        ids = [self.prefix, self.suffix + [self.eos_id]]
        ids += [e.ids for e in self.model.encode_batch_fast(pieces, add_special_tokens=False)]
        piece_lengths = np.fromiter(map(len, ids), np.int64, len(ids))
        flat = np.fromiter(itertools.chain.from_iterable(ids), np.int64, int(piece_lengths.sum()))
        piece_starts = np.cumsum(piece_lengths) - piece_lengths
        token_counts = piece_lengths[indices]
        # position of each output token in ``flat``: its piece's start plus its rank within the piece
        run_starts = np.cumsum(token_counts) - token_counts
        positions = np.repeat(piece_starts[indices] - run_starts, token_counts)
        positions += np.arange(len(positions))
        doc_ends = np.cumsum([len(pieces) for pieces in split])
        lengths = np.add.reduceat(token_counts, np.concatenate([[0], doc_ends[:-1]]))
        return flat[positions], lengths
