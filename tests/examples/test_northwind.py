"""Tests of the deterministic Northwind sample corpus builder."""

from __future__ import annotations

import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docx
import pytest
import yaml

from examples.northwind import build as nw
from examples.northwind.build import CorpusManifest, apply_week_later, build_corpus
from examples.northwind.context import Ctx
from examples.northwind.extract import extract_text, normalize

AS_OF = datetime(2026, 3, 15, tzinfo=UTC)
QUESTIONS_FILE = Path(nw.__file__).with_name("questions.yaml")
FORMATS = ("md", "txt", "html", "pdf", "docx")
DAY = 86_400


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusManifest:
    return build_corpus(tmp_path_factory.mktemp("northwind") / "corpus", as_of=AS_OF)


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    return yaml.safe_load(QUESTIONS_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def texts(corpus: CorpusManifest) -> dict[str, str]:
    """Extracted text of every document and every file at HEAD, keyed by corpus path."""
    out = {path: extract_text(corpus.root / path) for path in corpus.documents}
    for repo in corpus.repos:
        for name in git(corpus.root / repo, "ls-files").splitlines():
            out[f"{repo}/{name}"] = (corpus.root / repo / name).read_text(encoding="utf-8")
    return out


def file_changes(repo: Path) -> Counter[str]:
    return Counter(
        line for line in git(repo, "log", "--format=", "--name-only").splitlines() if line
    )


# -- documents ----------------------------------------------------------------------------------


def test_document_counts_and_formats(corpus: CorpusManifest) -> None:
    assert len(corpus.documents) >= 40
    formats = Counter(path.rsplit(".", 1)[-1] for path in corpus.documents)
    for fmt in FORMATS:
        assert formats[fmt] >= 4, formats
    assert set(formats) == set(FORMATS)
    tenants = {path.split("/")[1] for path in corpus.documents}
    assert tenants == {"engineering", "finance"}
    on_disk = sorted(
        str(p.relative_to(corpus.root))
        for p in (corpus.root / "documents").rglob("*")
        if p.is_file()
    )
    assert on_disk == corpus.documents


def test_document_mtimes(corpus: CorpusManifest) -> None:
    documents = nw.all_documents(Ctx(corpus.as_of))
    assert sum(d.changing for d in documents) >= 5
    for document in documents:
        age_days = (
            corpus.as_of.timestamp() - (corpus.root / "documents" / document.path).stat().st_mtime
        ) / DAY
        low, high = (1, 6) if document.changing else (120, 400)
        assert low <= age_days <= high, (document.path, age_days)


def test_pdf_and_docx_structure(corpus: CorpusManifest, texts: dict[str, str]) -> None:
    pdfs = [p for p in corpus.documents if p.endswith(".pdf")]
    assert all(len(texts[p]) > 200 for p in pdfs)
    docx_paths = [p for p in corpus.documents if p.endswith(".docx")]
    for path in docx_paths:
        document = docx.Document(str(corpus.root / path))
        styles = {paragraph.style.name for paragraph in document.paragraphs}
        assert {"Heading 1", "Heading 2"} <= styles, path
        assert document.tables, path
        assert document.core_properties.created.date() < corpus.as_of.date()


def test_html_and_markdown_have_headings_and_tables(corpus: CorpusManifest) -> None:
    for path in corpus.documents:
        raw = (corpus.root / path).read_bytes()
        if path.endswith(".html"):
            assert (b"<h1>" in raw and b"<h2>" in raw) or b"<table>" in raw, path
        if path.endswith(".md"):
            assert raw.startswith(b"# "), path
    html_tables = sum(
        b"<table>" in (corpus.root / p).read_bytes()
        for p in corpus.documents
        if p.endswith(".html")
    )
    md_tables = sum(
        b"| --- |" in (corpus.root / p).read_bytes() for p in corpus.documents if p.endswith(".md")
    )
    assert html_tables >= 4 and md_tables >= 4


# -- repositories -----------------------------------------------------------------------------


def test_repository_history(corpus: CorpusManifest) -> None:
    assert corpus.repos == ["repos/platform-api", "repos/billing-service"]
    total = 0
    for repo_path in corpus.repos:
        repo = corpus.root / repo_path
        total += int(git(repo, "rev-list", "--count", "HEAD"))
        assert git(repo, "status", "--porcelain") == ""  # working tree checked out at HEAD
        assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
        dates = [int(line) for line in git(repo, "log", "--format=%ct").split()]
        assert (max(dates) - min(dates)) / DAY >= 365
        assert (corpus.as_of.timestamp() - max(dates)) / DAY <= 6
        assert git(repo, "log", "--diff-filter=D", "--format=", "--name-only").strip()
    assert total == corpus.commits >= 300


def test_changing_and_frozen_files(corpus: CorpusManifest) -> None:
    busy, frozen = 0, 0
    for repo_path in corpus.repos:
        repo = corpus.root / repo_path
        changes = file_changes(repo)
        at_head = set(git(repo, "ls-files").splitlines())
        busy += sum(1 for name, count in changes.items() if count >= 40)
        frozen += sum(1 for name, count in changes.items() if count == 1 and name in at_head)
        for weekly in ("CHANGELOG.md", "ONCALL.md", "STATUS.md", "config/settings.yaml"):
            assert changes[weekly] >= 40, (repo_path, weekly)
            settings = yaml.safe_load((repo / "config/settings.yaml").read_text())
            assert settings["release"]
    assert busy >= 4 and frozen >= 5


def test_secret_exists_only_in_history(corpus: CorpusManifest) -> None:
    repo = corpus.root / "repos/platform-api"
    history = git(repo, "log", "-p", "--format=%H")
    head_files = "\n".join((repo / n).read_text() for n in git(repo, "ls-files").splitlines())
    history_only = [v for _, v in corpus.planted_secrets if v in history and v not in head_files]
    assert len(history_only) >= 2  # the AWS key id and secret of scripts/sync_artifacts.sh


# -- determinism ------------------------------------------------------------------------------


def test_builds_are_deterministic(corpus: CorpusManifest, tmp_path: Path) -> None:
    again = build_corpus(tmp_path / "again", as_of=AS_OF)
    assert again.documents == corpus.documents
    assert again.planted_secrets == corpus.planted_secrets
    assert again.planted_pii == corpus.planted_pii
    assert again.commits == corpus.commits
    for path in corpus.documents:
        first, second = corpus.root / path, again.root / path
        assert first.read_bytes() == second.read_bytes(), path
        assert first.stat().st_mtime == second.stat().st_mtime, path
    for repo in corpus.repos:
        assert git(corpus.root / repo, "rev-parse", "HEAD") == git(
            again.root / repo, "rev-parse", "HEAD"
        )


def test_rebuild_replaces_existing_corpus_but_not_other_dirs(tmp_path: Path) -> None:
    target = tmp_path / "corpus"
    build_corpus(target, as_of=AS_OF)
    (target / "documents" / "stray.txt").write_text("left over")
    build_corpus(target, as_of=AS_OF)
    assert not (target / "documents" / "stray.txt").exists()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        build_corpus(precious, as_of=AS_OF)
    assert (precious / "notes.txt").exists()


# -- questions --------------------------------------------------------------------------------


def test_questions_are_well_formed(corpus: CorpusManifest, questions: list[dict]) -> None:
    assert len(questions) >= 60
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids))
    assert {q["tenant"] for q in questions} == {"engineering", "finance"}
    assert {q["stability"] for q in questions} == {"static", "volatile"}
    for tenant in ("engineering", "finance"):
        for stability in ("static", "volatile"):
            assert any(q["tenant"] == tenant and q["stability"] == stability for q in questions)
    sources = {q["source"] for q in questions}
    assert {s.rsplit(".", 1)[-1] for s in sources if s.startswith("documents/")} == set(FORMATS)
    assert all(any(s.startswith(repo + "/") for s in sources) for repo in corpus.repos)
    for q in questions:
        assert set(q) <= {"id", "question", "answer", "aliases", "source", "tenant", "stability"}
        assert q["answer"] and len(q["answer"]) <= 40, q["id"]
        assert q["answer"].lower() not in q["question"].lower(), q["id"]
        assert q["source"].split("/")[1] == q["tenant"] or q["source"].startswith("repos/")


def test_question_stability_matches_source(corpus: CorpusManifest, questions: list[dict]) -> None:
    changing_docs = {
        f"documents/{d.path}" for d in nw.all_documents(Ctx(corpus.as_of)) if d.changing
    }
    for q in questions:
        source = q["source"]
        if source.startswith("documents/"):
            volatile = source in changing_docs
        else:
            repo_name, path = source.split("/", 2)[1:]
            volatile = file_changes(corpus.root / "repos" / repo_name)[path] >= 40
            assert volatile or file_changes(corpus.root / "repos" / repo_name)[path] == 1, q["id"]
        assert (q["stability"] == "volatile") == volatile, q["id"]


def test_every_answer_is_in_its_source(
    corpus: CorpusManifest, questions: list[dict], texts: dict[str, str]
) -> None:
    planted = [value for _, value in corpus.planted_secrets + corpus.planted_pii]
    for q in questions:
        text = texts[q["source"]]
        # An answer only counts if it survives redaction of every planted secret and PII value.
        for value in planted:
            text = text.replace(value, " ")
        assert normalize(q["answer"]) in normalize(text), (q["id"], q["answer"], q["source"])


# -- planted secrets and PII -------------------------------------------------------------------


def test_planted_secrets_and_pii_are_present(corpus: CorpusManifest, texts: dict[str, str]) -> None:
    kinds = {kind for kind, _ in corpus.planted_secrets}
    assert kinds == {
        "aws_access_key_id",
        "aws_secret_access_key",
        "github_token",
        "rsa_private_key",
        "password",
        "database_url",
    }
    document_text = "\n".join(texts[p] for p in corpus.documents)
    repo_text = "\n".join(v for k, v in texts.items() if k.startswith("repos/"))
    history = "\n".join(git(corpus.root / r, "log", "-p", "--format=") for r in corpus.repos)
    for kind, value in corpus.planted_secrets:
        assert value in document_text or value in repo_text or value in history, kind
    # Every kind is planted both in the documents and in the repositories at HEAD.
    for kind in kinds:
        values = [v for k, v in corpus.planted_secrets if k == kind]
        assert any(v in document_text for v in values), kind
        assert any(v in repo_text for v in values), kind
    assert {kind for kind, _ in corpus.planted_pii} == {"email", "phone"}
    flat = normalize(document_text)
    for kind, value in corpus.planted_pii:
        assert normalize(value) in flat, (kind, value)
    phones = [v for k, v in corpus.planted_pii if k == "phone"]
    assert any(v.startswith("+1 555-") for v in phones) and any(
        v.startswith("(555) ") for v in phones
    )


# -- one week later -----------------------------------------------------------------------------


def test_apply_week_later(tmp_path: Path) -> None:
    manifest = build_corpus(tmp_path / "corpus", as_of=AS_OF)
    root = manifest.root
    before = {p: (root / p).read_bytes() for p in manifest.documents}
    repo = root / "repos/platform-api"
    head_before = git(repo, "rev-parse", "HEAD").strip()

    change = apply_week_later(root)
    new_as_of = AS_OF + timedelta(days=7)
    assert change["as_of"] == new_as_of.isoformat()

    changed = {p for p in manifest.documents if (root / p).read_bytes() != before[p]}
    assert changed == {change["volatile"]["path"], change["static"]["path"]}
    for key in ("volatile", "static"):
        item = change[key]
        text = normalize(extract_text(root / item["path"]))
        assert normalize(item["new"]) in text and normalize(item["old"]) not in text, key
        assert item["new"] not in before[item["path"]].decode(errors="replace")
        age = (new_as_of.timestamp() - (root / item["path"]).stat().st_mtime) / DAY
        assert 0 <= age <= 1, (key, age)
        assert item["question"]

    git_change = change["git"]
    assert git(repo, "rev-parse", "HEAD~1").strip() == head_before
    assert git(repo, "rev-parse", "HEAD").strip() == git_change["commit"]
    assert git(repo, "show", "--format=", "--name-only", "HEAD").split() == [git_change["path"]]
    status = (repo / git_change["path"]).read_text()
    assert git_change["new"] in status and git_change["old"] not in status
    assert git(repo, "status", "--porcelain") == ""
    committed = int(git(repo, "log", "-1", "--format=%ct"))
    assert 0 <= (new_as_of.timestamp() - committed) / DAY <= 1

    with pytest.raises(RuntimeError, match="already applied"):
        apply_week_later(root)

    # The same scripted change is reproducible: same commit SHA from a fresh build.
    again = build_corpus(tmp_path / "again", as_of=AS_OF)
    assert apply_week_later(again.root)["git"]["commit"] == git_change["commit"]


def test_cli_prints_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert nw.main([str(tmp_path / "cli"), "--as-of", "2026-03-15"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("Built Northwind corpus") and "\n" not in out
    assert "as of 2026-03-15" in out
