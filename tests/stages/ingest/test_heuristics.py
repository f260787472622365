import random
from dataclasses import replace

import numpy as np
import pytest
from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.pipeline.filters.gopher_repetition_filter import (
    find_all_duplicate,
    find_top_duplicate,
    get_n_grams,
)

from stages.base import is_removed
from stages.ingest.heuristics import (
    C4QualityConfig,
    FineWebQualityConfig,
    GopherQualityConfig,
    GopherRepetitionConfig,
    HeuristicFilters,
    HeuristicsConfig,
)
from stages.ingest.ngrams import NgramKeys, repeated_ngram_chars, top_ngram_chars
from stages.ingest.normalize import text_hash
from tests.stages.ingest.heuristics_synth import CONTENT, generated_corpus
from tests.stages.manual_synth import manual_corpus

WORDS = [
    f"{w}{s}" for w in CONTENT for s in ("", "s", "ed")
]  # distinct enough that no 5-gram repeats by chance


def line(rng: random.Random, words: int = 12) -> str:
    picked = [
        rng.choice(["the", "of", "and", "with"]) if i % 3 == 0 else rng.choice(WORDS)
        for i in range(words)
    ]
    return " ".join(picked).capitalize() + "."


def good_text(seed: int = 0, lines: int = 10) -> str:
    rng = random.Random(seed)
    return "\n".join(line(rng) for _ in range(lines))


def only(family: str, **overrides) -> HeuristicsConfig:
    """Every rule family off but one, tuned by ``overrides``."""
    families = {
        "gopher": GopherQualityConfig,
        "gopher_repetition": GopherRepetitionConfig,
        "c4": C4QualityConfig,
        "fineweb": FineWebQualityConfig,
    }
    parts = {name: cls(enabled=(name == family)) for name, cls in families.items()}
    parts[family] = replace(parts[family], **overrides)
    return HeuristicsConfig(**parts)


def verdict(text: str, config: HeuristicsConfig = HeuristicsConfig()) -> str | None:
    return HeuristicFilters(config).check(Document(text=text, id="d"))


def repeated_passage(fraction: float, seed: int = 0) -> str:
    """Distinct lines, with one 40-word passage appearing a second time so that the repeat is
    about ``fraction`` of the characters."""
    rng = random.Random(seed)
    passage = " ".join(rng.choice(WORDS) for _ in range(40))
    filler = []
    while len(passage) / (2 * len(passage) + sum(len(x) + 1 for x in filler)) > fraction:
        filler.append(line(rng))
    half = len(filler) // 2
    return "\n".join(filler[:half] + [f"Alpha {passage}."] + filler[half:] + [f"Omega {passage}."])


def bigram_heavy(n: int) -> str:
    """A long ``n``-gram repeated on distinct lines: the top ``n``-gram fraction is high while
    every shorter n-gram's share stays below its threshold."""
    rng = random.Random(n)
    phrase = " ".join(["incomprehensibilities"] * 0 + [f"extraordinary{i}" for i in range(n)])
    return "\n".join(f"{line(rng, 6)[:-1]} {phrase} {rng.choice(WORDS)}." for _ in range(12))


def test_a_clean_document_passes_every_rule():
    for seed in range(5):
        assert verdict(good_text(seed)) is None


CASES = {
    "gopher:min_doc_words": ("gopher", {}, "A short note with the cat."),
    "gopher:max_doc_words": ("gopher", {"max_doc_words": 60}, good_text()),
    "gopher:min_avg_word_length": (
        "gopher",
        {},
        "\n".join(" ".join(["it is the ox", "of a cat", "to be in"] * 2) + "." for _ in range(5)),
    ),
    "gopher:max_avg_word_length": (
        "gopher",
        {},
        "\n".join(
            "The characteristically incomprehensible administrations of responsibilities."
            for _ in range(12)
        ),
    ),
    "gopher:max_hash_word_ratio": ("gopher", {}, good_text() + "\n" + "#" * 30),
    "gopher:max_ellipsis_word_ratio": (
        "gopher",
        {},
        good_text() + "\nThe end ... " + "... " * 15 + "and the rest.",
    ),
    "gopher:max_bullet_lines_ratio": (
        "gopher",
        {},
        "\n".join("- " + x for x in good_text().split("\n")),
    ),
    "gopher:max_ellipsis_lines_ratio": (
        "gopher",
        {},
        "\n".join(x[:-1] + "..." for x in good_text().split("\n")),
    ),
    "gopher:min_alpha_words_ratio": (
        "gopher",
        {},
        good_text() + "\n" + " ".join(str(i) for i in range(40)),
    ),
    "gopher:min_stop_words": (
        "gopher",
        {},
        " ".join(random.Random(1).choice(WORDS) for _ in range(80)) + ".",
    ),
    "gopher_rep:dup_para_frac": (
        "gopher_repetition",
        {},
        "\n\n".join(["Short para here."] * 4 + good_text(2).split("\n")[:5]),
    ),
    "gopher_rep:dup_para_char_frac": (
        "gopher_repetition",
        {},
        "\n\n".join(good_text(3).split("\n") + [good_text(4, 5)] * 2),
    ),
    "gopher_rep:dup_line_frac": (
        "gopher_repetition",
        {},
        "\n".join(good_text(5).split("\n") + ["Yes."] * 7),
    ),
    "gopher_rep:dup_line_char_frac": (
        "gopher_repetition",
        {},
        "\n".join(good_text(6, 5).split("\n") + [good_text(7, 1) * 3] * 2),
    ),
    "gopher_rep:top_2_gram": ("gopher_repetition", {}, bigram_heavy(2)),
    "gopher_rep:top_3_gram": (
        "gopher_repetition",
        {"top_n_grams": {2: 0.5, 3: 0.18}},
        bigram_heavy(3),
    ),
    "gopher_rep:dup_5_gram": ("gopher_repetition", {}, repeated_passage(0.3)),
    "gopher_rep:dup_8_gram": (
        "gopher_repetition",
        {"dup_n_grams": {5: 0.5, 6: 0.5, 7: 0.5, 8: 0.12}},
        repeated_passage(0.3),
    ),
    "c4:lorem_ipsum": ("c4", {}, good_text() + "\nLorem ipsum dolor sit amet, consectetur."),
    "c4:curly_bracket": ("c4", {}, good_text() + "\nThe set {a, b} is small."),
    "c4:min_num_sentences": (
        "c4",
        {},
        "\n".join(x[:-1] for x in good_text().split("\n")[:7])
        + "\nOne. Two three four.\nFive six seven.",
    ),
    "fineweb:line_punct_ratio": ("fineweb", {}, "\n".join(x[:-1] for x in good_text().split("\n"))),
    "fineweb:short_line_ratio": (
        "fineweb",
        {},
        "\n".join(x[:25].strip() + "." for x in good_text(lines=20).split("\n")),
    ),
    "fineweb:char_dup_ratio": (
        "fineweb",
        {},
        good_text() + "\n" + good_text(9, 1) + "\n" + good_text(9, 1),
    ),
    "fineweb:list_ratio": (
        "fineweb",
        {},
        "\n".join(f"Extraordinarily unprecedented{i}." for i in range(20)),
    ),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_trips_on_its_own_text_and_records_value_and_threshold(rule):
    family, overrides, text = CASES[rule]
    config = only(family, **overrides)
    assert verdict(good_text(), only(family)) is None
    doc = Document(text=text, id="d")
    assert HeuristicFilters(config).check(doc) == rule
    recorded = doc.metadata["meta"]["filter"]
    assert recorded["rule"] == rule and recorded["value"] != recorded["threshold"]


def test_a_rule_set_to_null_is_switched_off():
    family, _, text = CASES["gopher:min_stop_words"]
    assert verdict(text, only(family, min_stop_words=None)) is None
    assert (
        verdict(text, replace(HeuristicsConfig(), gopher=GopherQualityConfig(enabled=False)))
        != "gopher:min_stop_words"
    )


def test_c4_rewrite_drops_lines_and_updates_the_exact_dedup_key():
    text = (
        good_text()
        + "\nEnable javascript to see this page, then reload it.\nA heading without punctuation"
    )
    doc = Document(text=text, id="d", metadata={"text_hash": text_hash(text)})
    assert (
        HeuristicFilters(replace(HeuristicsConfig(), c4=C4QualityConfig(rewrite_text=True))).check(
            doc
        )
        is None
    )
    assert doc.text == good_text() and doc.metadata["text_hash"] == text_hash(good_text())
    kept_whole = Document(text=text, id="d")
    assert (
        HeuristicFilters(HeuristicsConfig()).check(kept_whole) is None and kept_whole.text == text
    )


def test_domains_limit_where_the_rules_apply():
    step = HeuristicFilters(HeuristicsConfig(domains=["general"]))
    short = "Too short."
    docs = [Document(text=short, id=d, metadata={"domain": d}) for d in ("general", "code")]
    assert [is_removed(d) for d in step.run(iter(docs))] == [True, False]
    stats = step.stats.to_dict()["stats"]
    assert stats["removed:gopher:min_doc_words"] == 1 and stats["kept"] == 1


def test_ngram_statistics_equal_datatrove_on_random_word_sequences():
    rng = random.Random(1)
    for _ in range(200):
        vocabulary = ["a", "bb", "ccc", "dddd"][: rng.randint(1, 4)] + [
            f"w{i}" for i in range(rng.choice([0, 3, 30]))
        ]
        words = [rng.choice(vocabulary) for _ in range(rng.randint(10, 80))]
        index = {}
        ids = np.array([index.setdefault(w, len(index)) for w in words])
        lengths = np.array([len(w) for w in words])
        for n in (2, 3, 4):
            assert top_ngram_chars(NgramKeys(ids)(n), lengths, n) == find_top_duplicate(
                get_n_grams(words, n)
            )
        for n in range(5, 11):
            assert repeated_ngram_chars(NgramKeys(ids)(n), lengths, n) == find_all_duplicate(
                words, n
            )


def datatrove_keeps(text: str) -> bool:
    doc = Document(text=text, id="d")
    chain = [
        GopherQualityFilter(),
        GopherRepetitionFilter(),
        C4QualityFilter(),
        FineWebQualityFilter(),
    ]
    return all(
        step.filter(doc) is True for step in chain
    )  # C4 rewrites doc.text for FineWeb, as in a pipeline


def test_keep_or_drop_agrees_with_datatrove_stock_filters():
    texts = (
        generated_corpus(60, seed=3)
        + [good_text(s) for s in range(5)]
        + [text for _, _, text in CASES.values()]
    )
    ours = [verdict(t) is None for t in texts]
    theirs = [datatrove_keeps(t) for t in texts]
    disagreements = [t[:80] for t, a, b in zip(texts, ours, theirs) if a != b]
    assert len(disagreements) <= 1, disagreements
    assert 0 < sum(ours) < len(texts)  # both outcomes are exercised


def test_keep_or_drop_agrees_with_datatrove_on_man_pages_manuals_and_fortunes():
    texts = manual_corpus(200, seed=11)
    ours = [verdict(t) is None for t in texts]
    theirs = [datatrove_keeps(t) for t in texts]
    disagreements = [t[:200] for t, a, b in zip(texts, ours, theirs) if a != b]
    assert len(disagreements) <= 0.005 * len(texts), disagreements
    assert 10 < sum(ours) < len(texts) - 10  # both outcomes, many times


def unfamiliar_text(rng: random.Random) -> str:
    """Text unlike the demo and the manuals: words of random Unicode (superscript digits, CJK, emoji,
    quotes and dashes of many scripts), code, bullet lists and very long lines, between English prose."""
    alphabet = "aeiouxyzßéøΩλж中文٣²³⁵½ⅻ🙂«»„“”‘’…—–-_.,;:!?()[]<>/\\'\"#*+=%$€@~^|`"

    def odd_word() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))

    def part() -> str:
        kind = rng.choice(["prose", "unicode", "code", "list", "long"])
        if kind == "prose":
            return good_text(rng.randint(0, 10**6), rng.randint(1, 6))
        if kind == "unicode":
            return "\n".join(
                " ".join(
                    rng.choice([odd_word(), rng.choice(WORDS), "the", "of"]) for _ in range(12)
                )
                for _ in range(rng.randint(1, 5))
            )
        if kind == "code":
            return "\n".join(
                f"    x{i} = f(a[{i}], b.c_d(e**2)) + '{odd_word()}'  # {rng.choice(WORDS)}."
                for i in range(rng.randint(1, 8))
            )
        if kind == "list":
            bullet = rng.choice(["- ", "• ", "* ", "1. "])
            return "\n".join(
                bullet + line(rng, rng.randint(1, 8)) for _ in range(rng.randint(2, 9))
            )
        word = rng.choice(WORDS) * rng.choice([1, 80, 200])  # up to a word of over 1000 characters
        return " ".join([word] + [rng.choice(WORDS) for _ in range(rng.randint(100, 600))]) + "."

    return rng.choice(["\n", "\n\n"]).join(part() for _ in range(rng.randint(1, 7)))


def test_keep_or_drop_and_reason_agree_with_datatrove_on_unfamiliar_text():
    rng = random.Random(5)
    texts = [unfamiliar_text(rng) for _ in range(150)]
    ours = [verdict(t) is None for t in texts]
    theirs = [datatrove_keeps(t) for t in texts]
    assert [t[:120] for t, a, b in zip(texts, ours, theirs) if a != b] == []
    assert 10 < sum(ours) < len(texts) - 10


def test_a_superscript_number_is_no_alphabetic_word_as_in_datatrove():
    text = good_text(lines=6) + "\n" + " ".join(["2⁵³", "2⁻⁵³", "10²"] * 8) + " the end."
    config = only("gopher")
    doc = Document(text=text, id="d")
    assert HeuristicFilters(config).check(doc) == "gopher:min_alpha_words_ratio"
    assert GopherQualityFilter().filter(Document(text=text, id="d")) == (
        False,
        "gopher_below_alpha_threshold",
    )
