"""The refresh's dbt build skips unit tests only while they passed on this exact project."""

from pathlib import Path

from dagster_project.defs.warehouse.assets import UNIT_TESTS_PASSED, build_args

VARS = {"min_stable_days": 30, "as_of": None}
SKIP = ["--exclude", "resource_type:unit_test"]


def _project(root: Path) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "models" / "a.sql").write_text("select 1 as x\n")
    (root / "dbt_project.yml").write_text("name: p\n")
    (root / "target").mkdir()
    (root / "target" / "manifest.json").write_text("{}")
    return root


def _passed(state: Path, fingerprint: str) -> None:
    state.mkdir(parents=True, exist_ok=True)
    (state / UNIT_TESTS_PASSED).write_text(fingerprint)


def test_first_build_runs_unit_tests_and_a_recorded_pass_skips_them(tmp_path):
    project, state = _project(tmp_path / "dbt"), tmp_path / "state"
    args, fingerprint = build_args(VARS, state, project)
    assert args[:2] == ["build", "--vars"] and args[2:] == ['{"min_stable_days": 30, '
                                                            '"as_of": null}']
    _passed(state, fingerprint)
    again, same = build_args(VARS, state, project)
    assert (again[3:], same) == (SKIP, fingerprint)


def test_a_changed_model_or_var_reruns_unit_tests_but_build_output_does_not(tmp_path):
    project, state = _project(tmp_path / "dbt"), tmp_path / "state"
    _passed(state, build_args(VARS, state, project)[1])
    (project / "target" / "manifest.json").write_text('{"other": 1}')  # build output: ignored
    assert build_args(VARS, state, project)[0][3:] == SKIP
    assert build_args({**VARS, "min_stable_days": 7}, state, project)[0][3:] == []
    (project / "models" / "a.sql").write_text("select 2 as x\n")
    assert build_args(VARS, state, project)[0][3:] == []
