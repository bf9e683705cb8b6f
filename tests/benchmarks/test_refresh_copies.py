"""The incremental benchmark's corpus growth: every copy is a distinct file of the same kind."""

from benchmarks.incremental_refresh import copy_documents


def test_copies_are_distinct_text_and_keep_their_mtime(tmp_path):
    source = tmp_path / "documents" / "engineering"
    (source / "adr").mkdir(parents=True)
    (source / "adr" / "a.md").write_text("# A\nbody\n")
    (source / "b.pdf").write_bytes(b"%PDF-1.4 fake")
    added = copy_documents(tmp_path, 3)
    assert added == 4
    copies = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    assert copies == ["adr/a.md", "b.pdf", "copy-2/adr/a.md", "copy-2/b.pdf",
                      "copy-3/adr/a.md", "copy-3/b.pdf"]
    texts = {(source / p).read_text() for p in copies if p.endswith(".md")}
    assert len(texts) == 3
    assert (source / "copy-3/b.pdf").read_bytes() == (source / "b.pdf").read_bytes()
    assert (source / "copy-2/adr/a.md").stat().st_mtime == (source / "adr/a.md").stat().st_mtime
