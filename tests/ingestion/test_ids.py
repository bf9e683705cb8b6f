from ingestion import ids


def test_ids_are_deterministic_and_distinct():
    a = ids.document_id("src", "docs/a.md")
    assert a == ids.document_id("src", "docs/a.md")
    assert a != ids.document_id("src", "docs/b.md")
    assert a != ids.document_id("other", "docs/a.md")
    assert len(a) == 24
    c0 = ids.chunk_id(a, "h1", 0)
    assert c0 == ids.chunk_id(a, "h1", 0)
    assert len({c0, ids.chunk_id(a, "h1", 1), ids.chunk_id(a, "h2", 0)}) == 3


def test_separator_prevents_ambiguous_concatenation():
    assert ids.document_id("ab", "c") != ids.document_id("a", "bc")


def test_content_hash_is_sha256_of_bytes():
    assert ids.content_hash(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_email_hash_ignores_case_and_space():
    assert ids.email_hash(" Alice@Corp.example ") == ids.email_hash("alice@corp.example")
