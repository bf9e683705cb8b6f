"""Facts a new document version changed: same subject and relation, a different answer.

The old facts' pairs are kept, flagged superseded, as a regression set: a model trained on the
old version should now give the new answer, not the old one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from training.synthesis.models import Fact, stable_id
from training.synthesis.normalize import normalize_answer
from training.synthesis.store import now


def detect_stale(previous: list[dict[str, Any]], current: list[Fact], current_chunks: set[str],
                 run_id: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Compare the last run's active facts with this run's.

    Only facts whose chunk is gone (its document has a new version) are candidates; a fact of
    an unchanged chunk cannot be stale. Returns the `qa.stale_facts` rows and a map from old
    fact id to the new answer.
    """
    by_key: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    for fact in current:
        by_key[(fact.document_id, fact.fact_key)].append(fact)
    rows: list[dict[str, Any]] = []
    superseded: dict[str, str] = {}
    detected_at = now()
    for old in previous:
        if old["chunk_id"] in current_chunks:
            continue
        matches = by_key.get((old["document_id"], old["fact_key"]), [])
        if not matches:
            continue  # the fact is gone, not changed
        new_answers = {normalize_answer(f.answer) for f in matches}
        if normalize_answer(old["answer"]) in new_answers:
            continue
        new = matches[0]
        superseded[old["fact_id"]] = new.answer
        rows.append({
            "stale_id": stable_id("stale", old["fact_id"], new.fact_id), "tenant": old["tenant"],
            "document_id": old["document_id"], "fact_key": old["fact_key"], "kind": old["kind"],
            "subject": old["subject"], "relation": old["relation"],
            "old_fact_id": old["fact_id"], "old_chunk_id": old["chunk_id"],
            "old_content_hash": old["content_hash"],
            "old_version_number": old["version_number"], "old_answer": old["answer"],
            "new_fact_id": new.fact_id, "new_chunk_id": new.chunk_id,
            "new_content_hash": new.content_hash, "new_version_number": new.version_number,
            "new_answer": new.answer, "run_id": run_id, "detected_at": detected_at})
    return rows, superseded
