"""The GitHub Actions workflows cannot run here: they are validated against GitHub's workflow schema."""

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


def test_book_workflow_builds_with_make_book_and_deploys_only_from_main():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"] and "pull_request" in triggers
    build_steps = wf["jobs"]["build"]["steps"]
    run = next(s["run"] for s in build_steps if "make book" in s.get("run", ""))
    assert "set -euo pipefail" in run
    uploads = {s["uses"].split("@")[0]: s for s in build_steps if "uses" in s}
    assert "pull_request" in uploads["actions/upload-artifact"]["if"]
    assert "_build/html" in uploads["actions/upload-pages-artifact"]["with"]["path"]
    deploy = wf["jobs"]["deploy"]
    assert "pull_request" in deploy["if"] and "refs/heads/main" in deploy["if"]
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")
