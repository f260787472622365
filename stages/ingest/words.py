"""Words as datatrove's filters count them: spaCy's blank English tokenizer, without spaCy's documents.

datatrove's Gopher, Gopher-repetition and FineWeb filters split text with ``spacy.blank("en")``.
``EnglishWords`` applies the same rules (spaCy's prefix, suffix and infix patterns, its URL match and
its special cases such as "don't" -> "do", "n't", in the order ``Tokenizer.explain`` documents)
to each whitespace-separated chunk (``stages/ingest/tokens.py`` remembers every chunk split, so that
text, which repeats its chunks, is nearly all dictionary look-ups); spaCy's cost is building a ``Doc``
of ``Token`` objects, which this never does. Paths (``/etc``, ``/``, ``passwd``), options (``--dev``, ``=``),
e-mail addresses, a hyphen at a line break (``infor-``) and runs of underscores (one token per
``_``) come out as datatrove sees them, so word ratios near a threshold agree.
"""

from __future__ import annotations

import re._parser
from functools import cache

# An ASCII chunk without these characters has no infix (spaCy's infixes are hyphens, ellipses, icons and
# '.', ',', ':', '<', '>', '=', '/', '+', '*', '^' between letters or digits).
INFIX_CHARS = frozenset(".,-~+*^:<>=/")
# Where, in an ASCII chunk, an infix match can start: each ASCII alternative begins with one of these.
INFIX_START = re.compile("[.,~+*^:<>=/-]")
SUFFIX_HINTS = frozenset("0123456789'’")


def suffix_reach(pattern: str) -> int | None:
    """The longest suffix spaCy's pattern matches, but for the run of dots (``\\.\\.+$``), which needs a chunk
    ending in ".."; None if another alternative is unbounded. A suffix of any other chunk starts within
    its last ``reach`` characters, so the search starts there (lookbehinds still see what comes before)."""
    parsed = re._parser.parse(pattern).data
    if len(parsed) != 1 or parsed[0][0] is not re._parser.BRANCH:
        return None
    dots = str(re._parser.parse(r"\.\.+$"))
    reach = max(branch.getwidth()[1] for branch in parsed[0][1][1] if str(branch) != dots)
    return reach if reach < re._parser.MAXREPEAT else None


# ASCII letters or digits alone: what matches no affix, infix or URL pattern.
plain = re.compile("[A-Za-z]+|[0-9]+").fullmatch


class EnglishWords:
    """``words(line)`` -> the line's tokens, as ``spacy.blank("en")`` gives them minus whitespace tokens."""

    def __init__(self):
        from spacy.lang.en import (
            English,  # the rules only; imported here: spaCy takes a second to import
        )
        from spacy.pipeline import Sentencizer

        tokenizer = English().tokenizer
        self.sentence_ends = frozenset(Sentencizer.default_punct_chars)
        self.prefix = tokenizer.prefix_search
        self.suffix = tokenizer.suffix_search
        self.suffix_reach = suffix_reach(self.suffix.__self__.pattern)
        self.infixes = tokenizer.infix_finditer
        self.url = tokenizer.url_match
        self.whole = tokenizer.token_match or (
            lambda chunk: None
        )  # English has none; kept for fidelity
        self.special = {
            orth: [next(iter(piece.values())) for piece in pieces]
            for orth, pieces in tokenizer.rules.items()
        }
        # spaCy also applies a special case to a run of tokens the affix rules cut it into ("):" after "foo(").
        self.spanning = {
            tuple(self.split(orth, {})): orth
            for orth in self.special
            if orth.strip() and self.has_affix(orth)
        }
        # The lengths of the runs that start with each token, so that only those are looked up.
        self.run_lengths: dict[str, list[int]] = {}
        for tokens in self.spanning:
            self.run_lengths.setdefault(tokens[0], []).append(len(tokens))
        for lengths in self.run_lengths.values():
            lengths.sort()

    def __call__(self, line: str) -> list[str]:
        return [token for chunk in line.split() for token in self.chunk_tokens(chunk)]

    def chunk_tokens(self, chunk: str) -> list[str]:
        """The tokens of one chunk without whitespace."""
        return self.merge_special(self.split(chunk, self.special))

    def has_affix(self, text: str) -> bool:
        """A non-empty prefix, suffix or infix (spaCy's ``find_prefix or find_suffix or find_infix``)."""
        prefix, suffix = self.prefix(text), self.suffix(text)
        return bool(
            prefix
            and prefix.end()
            or suffix
            and suffix.start() < len(text)
            or any(self.infixes(text))
        )

    def merge_special(self, tokens: list[str]) -> list[str]:
        """Runs of tokens that spell a special case, as spaCy's special-case matcher retokenizes them: the longest
        first, then the leftmost, none overlapping one already taken."""
        if len(tokens) < 2 or self.run_lengths.keys().isdisjoint(tokens):
            return tokens  # a whole chunk that is a special case was split as one already
        found = [
            (length, i)
            for i, token in enumerate(tokens)
            for length in self.run_lengths.get(token, ())
            if i + length <= len(tokens) and tuple(tokens[i : i + length]) in self.spanning
        ]
        if not found:
            return tokens
        taken: set[int] = set()
        chosen = {}
        for length, start in sorted(found, key=lambda span: (-span[0], span[1])):
            if start not in taken and start + length - 1 not in taken:
                chosen[start] = length
            taken.update(range(start, start + length))
        merged, i = [], 0
        while i < len(tokens):
            if i in chosen:
                merged += self.special[self.spanning[tuple(tokens[i : i + chosen[i]])]]
                i += chosen[i]
            else:
                merged.append(tokens[i])
                i += 1
        return merged

    def split(self, chunk: str, special: dict[str, list[str]]) -> list[str]:
        """spaCy's ``Tokenizer.explain`` for one chunk with no whitespace and these special cases: the token texts.
        ASCII letters or digits alone match no affix, infix or URL pattern, so they skip the searches."""
        prefix, whole = self.prefix, self.whole
        if chunk in special:
            return list(special[chunk])
        tokens: list[str] = []
        suffixes: list[str] = []
        while chunk and not plain(chunk):
            found_prefix = prefix(chunk)
            found_suffix = None if found_prefix else self.find_suffix(chunk)
            if not (found_prefix or found_suffix) or whole(chunk) or chunk in special:
                break
            if found_prefix:
                if found_prefix.end() == 0:
                    break
                tokens.append(chunk[: found_prefix.end()])
                chunk = chunk[found_prefix.end() :]
                if chunk in special:
                    continue
                found_suffix = self.find_suffix(chunk)
            if found_suffix:
                if found_suffix.start() == len(chunk):
                    break
                suffixes.append(chunk[found_suffix.start() :])
                chunk = chunk[: found_suffix.start()]
        if not chunk:
            pass
        elif chunk in special:
            tokens += special[chunk]
        elif (
            plain(chunk)
            or whole(chunk)
            or self.url(chunk)
            or chunk.isascii()
            and INFIX_CHARS.isdisjoint(chunk)
        ):
            tokens.append(chunk)
        else:
            tokens += self.split_infixes(chunk)
        return tokens + suffixes[::-1]

    def find_suffix(self, chunk: str):
        """``suffix_search``, skipped where no suffix can end: an ASCII digit, or an ASCII letter that ends no
        "'s" and no unit after a number ("5km")."""
        last = chunk[-1:]
        if last.isascii() and (last.isdigit() or last.isalpha() and SUFFIX_HINTS.isdisjoint(chunk)):
            return None
        if self.suffix_reach is None or chunk.endswith(".."):
            return self.suffix(chunk)
        return self.suffix(chunk, max(0, len(chunk) - self.suffix_reach))

    def split_infixes(self, chunk: str) -> list[str]:
        """spaCy's infix split. In an ASCII chunk, a match at its first character splits nothing and any other
        starts at one of ``INFIX_START``'s characters, so the search starts at the first one (the regex would
        fail at every position before it; lookbehinds still see what comes before)."""
        start = 0
        if chunk.isascii():
            later = INFIX_START.search(chunk, 1)
            if later is None:
                return [chunk]
            start = 0 if chunk[0] in INFIX_CHARS else later.start()
        tokens: list[str] = []
        offset = 0
        for match in self.infixes(chunk, start):
            start, end = match.span()
            if offset == 0 and start == 0:
                continue
            if start > offset:
                tokens.append(chunk[offset:start])
            if end > start:
                tokens.append(chunk[start:end])
            offset = end
        return tokens + ([chunk[offset:]] if chunk[offset:] else [])


@cache
def english_words() -> EnglishWords:
    """The process's tokenizer, so that every filter shares its rules and what it remembers."""
    return EnglishWords()
