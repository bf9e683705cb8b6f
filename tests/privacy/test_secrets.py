"""The scrubber on the generated secrets corpus: 60 planted secrets, 1,000 clean files."""

import pytest

from evaluation.privacy.secrets_audit import run_secrets_audit
from evaluation.privacy.secrets_corpus import KINDS, PLACEMENTS, plant_secrets


def test_the_corpus_plants_every_kind_in_every_placement_deterministically():
    secrets = plant_secrets()
    assert len(secrets) == 60
    assert {(s.kind, s.placement) for s in secrets} == {(k, p) for k in KINDS for p in PLACEMENTS}
    assert secrets == plant_secrets()
    assert len({n for s in secrets for n in s.needles}) >= 60


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    return run_secrets_audit(tmp_path_factory.mktemp("secrets"))


def test_no_planted_secret_reaches_any_store(audit):
    assert audit.stores_searched == ["duckdb", "lancedb"]
    assert audit.missed == []
    assert audit.caught == audit.planted == 60


def test_recall_is_one_per_kind_and_placement(audit):
    assert audit.recall_by_kind == dict.fromkeys(KINDS, 1.0)
    assert audit.recall_by_placement == dict.fromkeys(PLACEMENTS, 1.0)


def test_clean_files_are_ingested_unaltered(audit):
    assert audit.clean_files == audit.clean_ingested == 1000
    assert audit.fp_examples == []
    assert audit.false_positives == 0 and audit.fp_per_1000 == 0.0


def test_the_audit_sees_a_leak_when_scrubbing_is_off(tmp_path, monkeypatch):
    """Proves the measurement can fail: with the scrubber off, secrets are found in the stores."""
    import ingestion.pipeline
    from ingestion.scrub import Redactions

    monkeypatch.setattr(ingestion.pipeline, "scrub", lambda text, **_: (text, Redactions()))
    leaky = run_secrets_audit(tmp_path, n_clean=20)
    assert leaky.recall_by_placement == {"code": 0.0, "pdf": 0.0, "docx": 0.0,
                                         "history": 1.0, "base64": 0.0}
    assert all("duckdb" in m["problem"] and "lancedb" in m["problem"] for m in leaky.missed)
