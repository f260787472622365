import pytest
from datatrove.utils.text import split_into_sentences
from datatrove.utils.word_tokenizers import load_word_tokenizer

from stages.ingest.tokens import DocumentWords, TokenTable, sentences_per_line
from stages.ingest.words import EnglishWords
from tests.stages.ingest.heuristics_synth import generated_corpus
from tests.stages.manual_synth import manual_corpus

TRICKY = [
    "see /etc/passwd, ~/.bashrc and /usr/share/doc/foo/README.gz",
    "-c, --dev=FILE: use -lt or --sort=WORD",
    "mail djm@gnu.ai.mit.edu or <bug-coreutils@gnu.org>.",
    "infor-\nmation about the",
    "_____ a __init__ and ___",
    "ls(1), dircolors(1).",
    "def f(x):\n    return x[:]",
    "it's, don't, can't -- Mark Twain",
    "U.S. e.g. etc. 5km $5",
    "https://www.debian.org/doc/ (see 2.6.32-5-amd64)",
]


@pytest.fixture(scope="module")
def spacy_words():
    return load_word_tokenizer("en")


@pytest.mark.parametrize(
    "texts",
    [TRICKY, manual_corpus(60, seed=2), generated_corpus(30, seed=2)],
    ids=["tricky", "manuals", "generated"],
)
def test_words_are_datatroves_spacy_tokens(texts, spacy_words):
    words = EnglishWords()
    for text in texts:
        assert [w for line in text.splitlines() for w in words(line)] == spacy_words.word_tokenize(
            text
        )


def test_sentences_per_line_are_what_datatroves_c4_filter_counts():
    table = TokenTable(EnglishWords())
    lines = [
        line.strip()
        for text in manual_corpus(40, seed=3) + TRICKY
        for line in text.splitlines()
        if line.strip()
    ]
    lines += [
        "One. Two! Three? Four.",
        "Dr. Smith arrived... then left.) Then what",
        'A sentence "quoted." Next one.',
        "Ends here. ... . Next, and ! ? then. 'Quoted' (x). ",
    ]
    doc = DocumentWords("\n".join(lines), table)
    counted = sentences_per_line(doc.property(table.role), doc.line_bounds)
    assert counted.tolist() == [len(split_into_sentences(line, "en")) for line in lines]


def test_a_chunk_is_split_once_and_then_remembered():
    table = TokenTable(EnglishWords())
    first = DocumentWords("(see /etc)", table)
    assert list(table.chunk_ids) == ["(see", "/etc)"]
    assert [list(table.token_ids)[i] for i in first.tokens] == ["(", "see", "/etc", ")"]
    pool_size = table.pool.size
    again = DocumentWords("/etc) (see\n/etc)", table)
    assert table.pool.size == pool_size and again.tokens.tolist() == [2, 3, 0, 1, 2, 3]
    assert again.line_bounds.tolist() == [0, 4, 6]
