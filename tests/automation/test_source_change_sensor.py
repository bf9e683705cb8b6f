"""source_change_sensor: fingerprints in the cursor, a refresh when a source changed."""

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.defs.automation.sensors import SourceWatch, source_change_sensor
from dagster_project.resources import KCSettings
from ingestion.config import IngestionConfig, SourceSpec
from ingestion.fingerprints import (
    Fingerprint,
    changed_sources,
    fingerprints_key,
    folder_digest,
    remote_head,
    source_fingerprint,
)
from tests.automation.conftest import write_config
from tests.conftest import git


def evaluate(config: Path, cursor: str | None, instance: dg.DagsterInstance | None = None):
    """One tick: (the run request or skip reason, the new cursor)."""
    context = dg.build_sensor_context(
        cursor=cursor, instance=instance or dg.DagsterInstance.ephemeral(),
        resources={"kc_settings": KCSettings(config_path=str(config)),
                   "source_watch": SourceWatch()})
    result = source_change_sensor(context)
    assert isinstance(result, dg.SensorResult)
    if result.run_requests:
        [request] = result.run_requests
        return request, result.cursor
    return result.skip_reason, result.cursor


def touch(path: Path, text: str, mtime_ns: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


# ------------------------------------------------------------------------------ the sensor
def test_first_tick_records_a_baseline_and_requests_nothing(project):
    result, cursor = evaluate(project.config, None)
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message.startswith("recorded a baseline for 2 of 2 sources")
    fingerprints = json.loads(cursor)
    assert sorted(fingerprints) == ["docs", "repo"]
    assert fingerprints["repo"] == "git:" + git(project.repo, "rev-parse", "HEAD")
    assert fingerprints["docs"].startswith("tree:")


def test_no_change_skips(project):
    _, cursor = evaluate(project.config, None)
    result, again = evaluate(project.config, cursor)
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message == "no change in 2 sources"
    assert again == cursor


def test_edited_document_requests_a_refresh_once(project):
    _, cursor = evaluate(project.config, None)
    (project.docs / "policies" / "travel.md").write_text("# Travel\n\nBook trains, not planes.\n")
    result, new_cursor = evaluate(project.config, cursor)
    assert isinstance(result, dg.RunRequest)
    assert result.run_key == fingerprints_key(json.loads(new_cursor))
    assert result.tags["kc/changed_sources"] == "docs"
    assert result.tags["kc/trigger"] == "source_change"
    assert json.loads(new_cursor)["repo"] == json.loads(cursor)["repo"]
    assert isinstance(evaluate(project.config, new_cursor)[0], dg.SkipReason)


def test_commit_requests_a_refresh(project):
    _, cursor = evaluate(project.config, None)
    (project.repo / "core.py").write_text("def total(items):\n    return sum(items, 0)\n")
    git(project.repo, "commit", "-qam", "start at zero")
    result, new_cursor = evaluate(project.config, cursor)
    assert isinstance(result, dg.RunRequest)
    assert result.tags["kc/changed_sources"] == "repo"
    assert json.loads(new_cursor)["repo"] == "git:" + git(project.repo, "rev-parse", "HEAD")


def test_uncommitted_edit_in_a_git_source_is_not_a_change(project):
    _, cursor = evaluate(project.config, None)
    (project.repo / "core.py").write_text("# work in progress\n")  # ingestion reads HEAD
    assert isinstance(evaluate(project.config, cursor)[0], dg.SkipReason)


def test_added_and_removed_sources_are_changes(project, tmp_path):
    _, cursor = evaluate(project.config, None)
    more = tmp_path / "more"
    more.mkdir()
    (more / "faq.md").write_text("# FAQ\n")
    write_config(project.config, project.home, [
        f"{{name: docs, type: documents, path: {project.docs}, tenant: eng, acl_groups: [eng]}}",
        f"{{name: more, type: documents, path: {more}, tenant: eng, acl_groups: [eng]}}",
    ])
    result, new_cursor = evaluate(project.config, cursor)
    assert isinstance(result, dg.RunRequest)
    assert result.tags["kc/changed_sources"] == "more,repo"
    assert sorted(json.loads(new_cursor)) == ["docs", "more"]


def test_unreadable_source_keeps_its_fingerprint_and_is_logged(project, tmp_path, capfd):
    _, cursor = evaluate(project.config, None)
    project.docs.rename(tmp_path / "unmounted")
    result, new_cursor = evaluate(project.config, cursor)
    assert isinstance(result, dg.SkipReason)
    assert new_cursor == cursor  # an unmounted folder must not trigger a refresh that empties it
    assert "WARNING - source docs: cannot fingerprint: folder" in capfd.readouterr().err


def test_run_key_names_the_state_not_the_tick(project):
    _, cursor = evaluate(project.config, None)
    (project.docs / "new.md").write_text("# New\n")
    first, _ = evaluate(project.config, cursor)
    second, _ = evaluate(project.config, cursor)  # a retried tick: same state, same key
    assert first.run_key == second.run_key


def test_new_tenants_get_their_training_partition(project, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", ["eng"])
    other = tmp_path / "sales"
    other.mkdir()
    write_config(project.config, project.home, [
        f"{{name: docs, type: documents, path: {project.docs}, tenant: eng, acl_groups: [eng]}}",
        f"{{name: sales, type: documents, path: {other}, tenant: sales, acl_groups: [s]}}",
    ])
    context = dg.build_sensor_context(
        instance=instance, resources={"kc_settings": KCSettings(config_path=str(project.config)),
                                      "source_watch": SourceWatch()})
    [request] = source_change_sensor(context).dynamic_partitions_requests
    assert (request.partitions_def_name, list(request.partition_keys)) == ("tenants", ["sales"])


# --------------------------------------------------------------------------- fingerprints
def test_folder_digest_sees_size_mtime_names_and_nothing_else(tmp_path):
    root = tmp_path / "docs"
    (root / "node_modules" / "pkg").mkdir(parents=True)
    touch(root / "a.md", "alpha", 1_700_000_000_000_000_000)
    base = folder_digest(root, exclude=IngestionConfig().default_excludes)
    assert base.files == 1 and not base.truncated

    def digest() -> str:
        return folder_digest(root, exclude=IngestionConfig().default_excludes).digest

    assert digest() == base.digest
    (root / "node_modules" / "pkg" / "index.js").write_text("x")  # excluded folder
    (root / "photo.png").write_bytes(b"\x89PNG")  # a format ingestion does not read
    assert digest() == base.digest
    touch(root / "a.md", "alpha", 1_700_000_000_000_000_001)  # same size, mtime 1 ns later
    assert digest() != base.digest
    touch(root / "a.md", "alpha", 1_700_000_000_000_000_000)
    assert digest() == base.digest
    (root / "a.md").rename(root / "b.md")
    os.utime(root / "b.md", ns=(1_700_000_000_000_000_000,) * 2)
    assert digest() != base.digest


def test_folder_digest_does_not_follow_symlinks(tmp_path):
    root, outside = tmp_path / "docs", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "a.md").write_text("a")
    (outside / "secret.md").write_text("s")
    (root / "linked").symlink_to(outside)
    before = folder_digest(root)
    (outside / "secret.md").write_text("changed behind the link")
    (outside / "more.md").write_text("more")
    after = folder_digest(root)
    assert (after.digest, after.files) == (before.digest, before.files) == (after.digest, 1)


def test_folder_digest_stops_at_max_files(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    for i in range(5):
        (root / f"{i}.md").write_text(str(i))
    found = folder_digest(root, max_files=3)
    assert (found.files, found.truncated) == (3, True)
    (root / "4.md").write_text("past the bound")  # unseen: the walk stopped before it
    assert folder_digest(root, max_files=3).digest == found.digest
    spec = SourceSpec(name="docs", type="documents", tenant="t", acl_groups=("g",), path=root)
    fp = source_fingerprint(spec, IngestionConfig(), max_files=3)
    assert "stopped after 3 files" in fp.note and fp.value is not None


def test_remote_git_is_opt_in(project):
    url = project.repo.as_uri()  # file:// goes through the same `git ls-remote` path, offline
    spec = SourceSpec(name="remote", type="git", tenant="t", acl_groups=("g",), url=url)
    skipped = source_fingerprint(spec, IngestionConfig())
    assert skipped.value is None and "git ls-remote" in skipped.note
    head = git(project.repo, "rev-parse", "HEAD")
    assert source_fingerprint(spec, IngestionConfig(), remote_git=True).value == f"git:{head}"
    assert remote_head(url, "main") == head
    assert remote_head(url, "0" * 40) == "0" * 40  # a pinned commit never moves


def test_remote_git_failure_is_a_note_not_a_change(tmp_path):
    spec = SourceSpec(name="remote", type="git", tenant="t", acl_groups=("g",),
                      url=(tmp_path / "missing").as_uri())
    fp = source_fingerprint(spec, IngestionConfig(), remote_git=True)
    assert fp.value is None and fp.note.startswith("cannot fingerprint: git ls-remote")


@pytest.mark.parametrize(("previous", "current", "cursor", "changed"), [
    ({}, [Fingerprint("a", "1")], {"a": "1"}, ["a"]),
    ({"a": "1"}, [Fingerprint("a", "1")], {"a": "1"}, []),
    ({"a": "1"}, [Fingerprint("a", None, "offline")], {"a": "1"}, []),
    ({"a": "1", "b": "2"}, [Fingerprint("b", "3")], {"b": "3"}, ["b", "a"]),
])
def test_changed_sources(previous, current, cursor, changed):
    assert changed_sources(previous, current) == (cursor, changed)
