from datetime import UTC, datetime

import pytest

from ingestion import git_reader
from tests.conftest import git


def test_tree_blobs_and_history(small_repo):
    head = git_reader.resolve(small_repo)
    tree = {e.path: e for e in git_reader.list_tree(small_repo, head)}
    assert set(tree) == {"core.py", "CHANGELOG.md"}
    blobs = dict(git_reader.read_blobs(small_repo, [tree["core.py"].blob_sha]))
    assert blobs[tree["core.py"].blob_sha].startswith(b'"""Core module')
    commits = git_reader.history(small_repo, head)
    assert [c.subject for c in commits] == ["initial", "week 1", "week 2", "week 3", "week 4"]
    assert commits[0].committed_at == datetime(2025, 1, 6, 10, tzinfo=UTC)
    assert commits[0].changes == (("CHANGELOG.md", 5, 0), ("core.py", 6, 0))
    assert commits[4].changes == (("CHANGELOG.md", 4, 0),)
    assert commits[4].author_email == "author@corp.example"


def test_binary_files_and_odd_names_in_history(small_repo):
    (small_repo / "logo.png").write_bytes(b"\x89PNG\x00\x01\x02")
    (small_repo / "-dash name.md").write_text("# Dash\n\nbody\n")
    git(small_repo, "add", "--", ".")
    git(small_repo, "commit", "-qm", "assets", date="2025-03-01T00:00:00+00:00")
    commits = git_reader.history(small_repo, git_reader.resolve(small_repo))
    assert set(commits[-1].changes) == {("-dash name.md", 3, 0), ("logo.png", None, None)}


def test_not_a_repository(tmp_path):
    with pytest.raises(git_reader.GitError, match="not a git repository"):
        git_reader.resolve(tmp_path)


def test_clone_from_url(small_repo, tmp_path):
    mirror = git_reader.clone_or_fetch(f"file://{small_repo}", tmp_path / "mirror.git")
    assert git_reader.resolve(mirror) == git_reader.resolve(small_repo)
    git(small_repo, "commit", "-q", "--allow-empty", "-m", "later", date="2025-04-01T00:00:00Z")
    git_reader.clone_or_fetch(f"file://{small_repo}", mirror)
    assert git_reader.resolve(mirror) == git_reader.resolve(small_repo)


def test_lfs_pointer_detection():
    assert git_reader.is_lfs_pointer(b"version https://git-lfs.github.com/spec/v1\noid sha256:ab")
    assert not git_reader.is_lfs_pointer(b"# readme")
