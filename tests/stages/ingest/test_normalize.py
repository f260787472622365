from datatrove.data import Document

from stages.ingest.normalize import NormalizeConfig, Normalizer, normalize_text, text_hash


def test_normalization_makes_equivalent_texts_equal():
    composed = "caf\u00e9\r\nline two  \r\n\r\n\r\n\r\nend\x00\x1b"
    decomposed = "cafe\u0301\nline two\n\nend"
    assert normalize_text(composed) == normalize_text(decomposed) == "caf\u00e9\nline two\n\nend"
    assert text_hash(normalize_text(composed)) == text_hash(normalize_text(decomposed))


def test_empty_and_short_documents_are_removed_with_reason():
    step = Normalizer(NormalizeConfig(min_chars=5))
    docs = [Document(text=t, id=str(i)) for i, t in enumerate([" \n\t ", "abc", "long enough"])]
    out = list(step.run(iter(docs)))
    assert [d.metadata.get("removed", {}).get("reason") for d in out] == [
        "empty",
        "too_short",
        None,
    ]
    assert "text_hash" in out[2].metadata
