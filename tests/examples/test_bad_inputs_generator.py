"""Tests for the hostile-input generator itself (examples/bad_inputs.py)."""

from __future__ import annotations

import io
import os
import stat
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from examples.bad_inputs import (
    ENCRYPTED_PDF_PASSWORD,
    HUGE_LINE_SIZE,
    KINDS,
    ZIP_BOMB_UNCOMPRESSED_SIZE,
    BadFile,
    _docx,
    _zip_bomb_document,
    make_bad_corpus,
)

EXPECTED = {
    # kind: (relpaths, expect)
    "good_md": ([b"good.md"], "ingest"),
    "empty": ([b"empty.md"], "quarantine"),
    "truncated_pdf": ([b"truncated.pdf"], "quarantine"),
    "encrypted_pdf": ([b"encrypted.pdf"], "quarantine"),
    "image_only_pdf": ([b"image_only.pdf"], "quarantine"),
    "binary_md": ([b"random.md"], "quarantine"),
    "cp1252_txt": ([b"cp1252.txt"], "ingest"),
    "shift_jis_txt": ([b"sjis.txt"], "ingest"),
    "utf16_nobom_txt": ([b"utf16.txt"], "ingest"),
    "nul_after_8k": ([b"late_nul.txt"], "quarantine"),
    "docx_zip_bomb": ([b"bomb.docx"], "quarantine"),
    "docx_entity_bomb": ([b"laughs.docx"], "quarantine"),
    "huge_single_line": ([b"huge.txt"], "quarantine"),
    "symlink_outside": ([b"outside.md"], "quarantine"),
    "symlink_loop": ([b"loop_a.md", b"loop_b.md"], "quarantine"),
    "unreadable": ([b"unreadable.md"], "quarantine"),
    "name_newline": ([b"line\nbreak.md"], "ingest"),
    "name_non_utf8": ([b"caf\xe9.md"], "ingest"),
    "name_leading_dash": ([b"-rf.md"], "ingest"),
    "pdf_xref_loop": ([b"xref_loop.pdf"], "quarantine"),
    "docx_zip_slip": ([b"slip.docx"], "quarantine"),
    "ipynb_huge_output": ([b"forecast.ipynb"], "quarantine"),
    "ipynb_not_json": ([b"broken.ipynb"], "quarantine"),
    "sparse_2gb": ([b"sparse.txt"], "quarantine"),
    "deep_dir_500": ([b"deep" + b"/d" * 64], "quarantine"),
    "good_ipynb": ([b"churn.ipynb"], "ingest"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[BadFile], float]:
    root = tmp_path_factory.mktemp("bad") / "corpus"
    start = time.perf_counter()
    files = make_bad_corpus(root)
    elapsed = time.perf_counter() - start
    yield root, files, elapsed
    # make cleanup of the chmod-000 file trivially possible for non-root users too
    unreadable = root / "unreadable.md"
    if unreadable.exists():
        unreadable.chmod(0o644)


def _p(root: Path, relpath: bytes) -> bytes:
    return os.path.join(os.fsencode(root), relpath)


def _read(root: Path, relpath: bytes) -> bytes:
    with open(_p(root, relpath), "rb") as fh:
        return fh.read()


def _by_kind(files: list[BadFile], kind: str) -> BadFile:
    (bf,) = [f for f in files if f.kind == kind]
    return bf


def test_every_kind_present_exactly(corpus):
    root, files, _ = corpus
    assert set(KINDS) == set(EXPECTED)
    counts = Counter(f.kind for f in files)
    assert counts == Counter({k: len(paths) for k, (paths, _) in EXPECTED.items()})
    for kind, (paths, expect) in EXPECTED.items():
        got = [f for f in files if f.kind == kind]
        assert sorted(f.relpath for f in got) == sorted(paths), kind
        assert all(f.expect == expect for f in got), kind
    assert len({f.relpath for f in files}) == len(files)
    for f in files:
        assert isinstance(f.relpath, bytes)
        assert os.path.lexists(_p(root, f.relpath)), f.relpath
        if f.expect == "ingest":
            assert f.expected_text, f.kind
        else:
            assert f.expected_text is None, f.kind


def test_generation_is_fast(corpus):
    _, _, elapsed = corpus
    assert elapsed < 10.0, f"generation took {elapsed:.2f}s"


def test_disk_usage_under_200mb(corpus):
    root, files, _ = corpus
    # Allocated blocks, not apparent size: the 2 GiB sparse file occupies a few KiB.
    total = sum(os.lstat(_p(root, f.relpath)).st_blocks * 512 for f in files)
    assert total < 200 * 1024 * 1024


def test_empty(corpus):
    root, _, _ = corpus
    assert os.path.getsize(_p(root, b"empty.md")) == 0


def test_zip_bomb_sizes_and_structure(corpus):
    root, _, _ = corpus
    path = _p(root, b"bomb.docx")
    assert os.path.getsize(path) < 5 * 1024 * 1024
    with zipfile.ZipFile(os.fsdecode(path)) as zf:
        assert set(zf.namelist()) == {"[Content_Types].xml", "_rels/.rels", "word/document.xml"}
        info = zf.getinfo("word/document.xml")
        assert info.file_size >= ZIP_BOMB_UNCOMPRESSED_SIZE >= 1 << 30
        assert info.compress_size < 5 * 1024 * 1024
        with zf.open(info) as fh:  # stream only the beginning
            head = fh.read(1 << 16)
        assert head.startswith(b"<?xml") and b"<w:document" in head
        assert b"ZIPBOMB ZIPBOMB" in head


def test_zip_bomb_builder_makes_valid_docx(tmp_path):
    """Same code path at 2 MiB: full decompression (CRC checked) and python-docx parse."""
    import docx

    path = tmp_path / "small_bomb.docx"
    _docx(os.fsencode(path), _zip_bomb_document(2))
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        data = zf.read("word/document.xml")
    assert data.endswith(b"</w:document>")
    text = "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
    assert text.count("ZIPBOMB") == 2 * (1 << 17)


def test_entity_bomb(corpus):
    root, _, _ = corpus
    with zipfile.ZipFile(os.fsdecode(_p(root, b"laughs.docx"))) as zf:
        assert zf.testzip() is None
        xml = zf.read("word/document.xml")
    assert b"<!DOCTYPE" in xml
    assert b'<!ENTITY lol9 "' + b"&lol8;" * 10 + b'">' in xml
    assert b"&lol9;" in xml
    assert len(xml) < 4096


def test_truncated_pdf_fails_strict(corpus):
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    root, _, _ = corpus
    data = _read(root, b"truncated.pdf")
    assert data.startswith(b"%PDF-")
    assert b"%%EOF" not in data
    with pytest.raises(PyPdfError):
        reader = PdfReader(io.BytesIO(data), strict=True)
        for page in reader.pages:
            page.extract_text()


def test_encrypted_pdf(corpus):
    from pypdf import PdfReader

    root, _, _ = corpus
    reader = PdfReader(io.BytesIO(_read(root, b"encrypted.pdf")))
    assert reader.is_encrypted
    assert reader.decrypt(ENCRYPTED_PDF_PASSWORD)  # correct password opens it
    assert "harbour inspection" in reader.pages[0].extract_text()
    # and the text is not sitting there in clear
    assert b"harbour inspection" not in _read(root, b"encrypted.pdf")


def test_image_only_pdf_has_no_text(corpus):
    from pdfminer.high_level import extract_text
    from pypdf import PdfReader

    root, _, _ = corpus
    data = _read(root, b"image_only.pdf")
    assert extract_text(io.BytesIO(data)).strip() == ""
    reader = PdfReader(io.BytesIO(data), strict=True)
    page = reader.pages[0]
    assert "/Im0" in page["/Resources"]["/XObject"]
    assert b"BT" not in page.get_contents().get_data()


def test_binary_md(corpus):
    root, _, _ = corpus
    data = _read(root, b"random.md")
    assert len(data) == 4096
    assert data.count(b"\x00") >= 10
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


def test_binary_md_is_deterministic(tmp_path):
    a = make_bad_corpus(tmp_path / "a")
    b = make_bad_corpus(tmp_path / "b")
    assert a == b
    for rel in (b"random.md", b"bomb.docx", b"laughs.docx", b"image_only.pdf"):
        assert _read(tmp_path / "a", rel) == _read(tmp_path / "b", rel)
    os.chmod(_p(tmp_path / "a", b"unreadable.md"), 0o644)
    os.chmod(_p(tmp_path / "b", b"unreadable.md"), 0o644)


@pytest.mark.parametrize(
    "kind, relpath, codec",
    [
        ("cp1252_txt", b"cp1252.txt", "cp1252"),
        ("shift_jis_txt", b"sjis.txt", "shift_jis"),
        ("utf16_nobom_txt", b"utf16.txt", "utf-16-le"),
    ],
)
def test_encodings_decode(corpus, kind, relpath, codec):
    root, files, _ = corpus
    bf = _by_kind(files, kind)
    data = _read(root, relpath)
    assert bf.expected_text in data.decode(codec)
    if codec == "utf-16-le":
        assert b"\x00" in data  # ASCII-range UTF-16 is technically valid UTF-8, NUL-riddled
    else:
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")


def test_utf16_has_no_bom(corpus):
    root, _, _ = corpus
    data = _read(root, b"utf16.txt")
    assert data[:2] not in (b"\xff\xfe", b"\xfe\xff")
    assert data[1:2] == b"\x00"


def test_late_nul(corpus):
    root, _, _ = corpus
    data = _read(root, b"late_nul.txt")
    idx = data.index(b"\x00")
    assert idx >= 9 * 1024 > 8192
    assert data[:idx].isascii() and b"\x00" not in data[:idx]
    assert data[idx + 1 :].strip()


def test_huge_single_line(corpus):
    root, _, _ = corpus
    path = _p(root, b"huge.txt")
    assert os.path.getsize(path) == HUGE_LINE_SIZE >= 50 * 1024 * 1024
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            assert b"\n" not in chunk and b"\r" not in chunk


def test_symlinks(corpus):
    root, _, _ = corpus
    outside = _p(root, b"outside.md")
    assert os.path.islink(outside)
    target = os.path.realpath(outside)
    root_real = os.path.realpath(os.fsencode(root))
    assert not target.startswith(root_real + b"/")
    assert target == os.path.realpath(
        os.fsencode(root.parent / (root.name + "_outside") / "secret.md")
    )
    assert os.path.isfile(target)
    for rel in (b"loop_a.md", b"loop_b.md"):
        p = _p(root, rel)
        assert os.path.islink(p)
        assert not os.path.exists(p)  # dangling because of the loop
    assert os.readlink(_p(root, b"loop_a.md")) == b"loop_b.md"
    assert os.readlink(_p(root, b"loop_b.md")) == b"loop_a.md"
    with pytest.raises(OSError):
        open(_p(root, b"loop_a.md"), "rb")


def test_unreadable(corpus):
    root, _, _ = corpus
    st = os.lstat(_p(root, b"unreadable.md"))
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0
    assert st.st_size > 0


@pytest.mark.parametrize("kind", ["good_md", "name_newline", "name_non_utf8", "name_leading_dash"])
def test_valid_markdown_files(corpus, kind):
    root, files, _ = corpus
    bf = _by_kind(files, kind)
    text = _read(root, bf.relpath).decode("utf-8")
    assert bf.expected_text in text
    assert text.startswith("# ")
    assert bf.relpath in os.listdir(os.fsencode(root))


def test_odd_names(corpus):
    _, files, _ = corpus
    names = {f.kind: f.relpath for f in files}
    assert b"\n" in names["name_newline"]
    with pytest.raises(UnicodeDecodeError):
        names["name_non_utf8"].decode("utf-8")
    assert names["name_leading_dash"].startswith(b"-")


def test_good_md_structure(corpus):
    root, _, _ = corpus
    text = _read(root, b"good.md").decode()
    paragraphs = [b for b in text.split("\n\n") if b.strip() and not b.startswith("#")]
    assert text.startswith("# ") and len(paragraphs) == 2


def test_regeneration_is_idempotent(corpus):
    root, files, _ = corpus
    assert make_bad_corpus(root) == files
    assert os.path.islink(_p(root, b"outside.md"))
