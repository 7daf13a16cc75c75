"""The GitHub Actions workflows cannot run here: they are validated against GitHub's workflow schema."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

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


def test_every_push_and_pull_request_runs_the_whole_suite_on_311_and_what_differs_by_python_on_313():
    wf, triggers = _workflow()
    assert triggers["push"]["branches"] == ["main"] and "pull_request" in triggers
    test = wf["jobs"]["test"]
    matrix = test["strategy"]["matrix"]
    assert matrix["python"] == ["3.11", "3.13"]
    args = {entry["python"]: entry["pytest_args"] for entry in matrix["include"]}
    assert args == {"3.11": "", "3.13": '-m "not binder and not colab"'}  # the whole suite on 3.11
    step = next(s for s in test["steps"] if ".ci/run" in s.get("run", ""))
    assert "set -euo pipefail" in step["run"] and step["env"]["PYTEST_ARGS"] == "${{ matrix.pytest_args }}"
    runtime = (ROOT / "runtime.txt").read_text().strip()
    assert runtime == "python-3.11", "Binder's Python: the binder tests run in the 3.11 job only"
    # .ci/run runs `make test`, which hands PYTEST_ARGS to pytest.
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\t\$\(PY\) -m pytest .*\$\(PYTEST_ARGS\)$", (ROOT / "Makefile").read_text(), re.M)
    # ... after making its environment on the job's Python: so `make venv` is tried on 3.11 and on 3.13.
    assert re.search(r"^test: lint ", (ROOT / "Makefile").read_text(), re.M)
    assert re.search(r"^lint: \$\(STAMP\)$", (ROOT / "Makefile").read_text(), re.M)


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
    from sphinx_ext import notebooks
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
