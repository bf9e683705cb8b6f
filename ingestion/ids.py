"""Deterministic identifiers (DESIGN.md, "Identity and idempotence").

A document is (source, path); a version is its content; a chunk is (document, version, index).
Re-running on unchanged input therefore produces the same ids and writes nothing new.
"""

import hashlib

_SEP = "\x1f"  # unit separator: cannot appear in a source name and is rare in paths


def _digest(*parts: str, length: int = 24) -> str:
    return hashlib.sha256(_SEP.join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:length]


def document_id(source_id: str, path: str) -> str:
    """Id of a file within a source, stable across versions."""
    return _digest("doc", source_id, path)


def chunk_id(doc_id: str, content_hash: str, chunk_index: int) -> str:
    """Id of one chunk of one version of a document."""
    return _digest("chunk", doc_id, content_hash, str(chunk_index))


def content_hash(data: bytes) -> str:
    """Version id: the sha256 of the file's bytes."""
    return hashlib.sha256(data).hexdigest()


def email_hash(email: str) -> str:
    """Pseudonymous author id, so commit authors can be grouped without storing the email."""
    return _digest("author", email.strip().lower(), length=16)
