"""The GitHub Actions workflows cannot run here: they are validated against GitHub's workflow schema."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, load_tool

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CHECK = Path(sys.executable).with_name("check-jsonschema")


def test_there_is_a_workflow():
    assert WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_workflow_matches_githubs_schema(workflow):
    result = subprocess.run(
        [str(CHECK), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_can_fail(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  build:\n    steps: 3\n")
    result = subprocess.run(
        [str(CHECK), "--builtin-schema", "vendor.github-workflows", str(bad)], capture_output=True, text=True
    )
    assert result.returncode != 0


def _workflow():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    return wf, (wf[True] if True in wf else wf["on"])  # YAML 1.1 reads the key `on` as True


def test_every_push_and_pull_request_runs_the_whole_suite_on_311_and_313_as_ci_does():
    wf, triggers = _workflow()
    assert triggers["push"]["branches"] == ["main"] and "pull_request" in triggers
    test = wf["jobs"]["test"]
    assert test["strategy"]["matrix"]["python"] == ["3.11", "3.13"]
    run = next(s["run"] for s in test["steps"] if ".ci/run" in s.get("run", ""))
    assert "set -euo pipefail" in run


def test_least_permissions_per_job_and_pages_deployed_only_from_main():
    wf, _ = _workflow()
    assert wf["permissions"] == {}
    special = {"deploy": {"pages": "write", "id-token": "write"}, "colab-branch": {"contents": "write"}}
    for name, job in wf["jobs"].items():
        assert job["permissions"] == special.get(name, {"contents": "read"}), name
    for name in ("build", "deploy", "colab-branch"):
        assert "refs/heads/main" in wf["jobs"][name]["if"] and "push" in wf["jobs"][name]["if"]
    build = wf["jobs"]["build"]["steps"]
    assert any("make book pdf colab" in s.get("run", "") for s in build)
    assert any(s.get("uses", "").startswith("actions/upload-pages-artifact@") for s in build)


def test_the_colab_branch_is_pushed_with_what_make_colab_made_to_the_branch_the_buttons_open():
    wf, _ = _workflow()
    notebooks = load_tool("tools/sphinx_ext/notebooks.py")
    job = wf["jobs"]["colab-branch"]
    fetched = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    build = wf["jobs"]["build"]["steps"]
    uploaded = next(s for s in build if s.get("with", {}).get("name") == fetched["with"]["name"])
    assert uploaded["with"]["path"] == "_build/colab"
    push = next(s["run"] for s in job["steps"] if "git push" in s.get("run", ""))
    assert f"git init -q -b {notebooks.BRANCH}" in push
    assert push.rstrip().endswith(f'.git" {notebooks.BRANCH}')
    assert "set -euo pipefail" in push


def test_a_weekly_canary_runs_make_canary_and_reports():
    wf, triggers = _workflow()
    assert triggers["schedule"][0]["cron"].split()[-1] != "*"  # once a week
    canary = wf["jobs"]["canary"]
    assert "schedule" in canary["if"] and "schedule" in wf["jobs"]["test"]["if"]
    assert any("make canary" in s.get("run", "") for s in canary["steps"])
    assert any("GITHUB_STEP_SUMMARY" in s.get("run", "") for s in canary["steps"])
