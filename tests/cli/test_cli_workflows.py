"""``workflows list/describe/delete/trigger`` without an engine: texts, JSON, and refused input."""

from __future__ import annotations

import json
from dataclasses import replace

from clikit import Project, fixed_runtime, run_demo_to_completion

from pyflow_cli.engine.events import TriggerSource
from pyflow_cli.testing import WorkflowTestEnv


def test_workflows_list(project: Project) -> None:
    result = project.cli("workflows", "list")
    assert result.stdout == """\
Showing 3 workflows from wrangler.toml:
┌─────────┬─────────────┬────────────┐
│ Name    │ Script name │ Class name │
├─────────┼─────────────┼────────────┤
│ demo    │ demo-app    │ Demo       │
├─────────┼─────────────┼────────────┤
│ failing │ demo-app    │ Failing    │
├─────────┼─────────────┼────────────┤
│ sleeper │ demo-app    │ Sleeper    │
└─────────┴─────────────┴────────────┘
"""
    as_json = json.loads(project.cli("workflows", "list", "--json").stdout)
    assert as_json[0] == {"name": "demo", "class_name": "Demo", "script_name": "demo-app"}


def test_workflows_list_without_workflows_warns(tmp_path: object) -> None:
    from pathlib import Path

    from clikit import write_project

    root = write_project(Path(str(tmp_path)) / "empty", config='name = "x"\nmain = "src/entry.py"\n')
    result = Project(root).cli("workflows", "list")
    assert result.exit_code == 0
    assert result.stderr == ("▲ [WARNING] There are no Workflows in wrangler.toml. Add a [[workflows]] "
                             "section.\n")


def test_workflows_describe_counts_instances_by_status(project: Project) -> None:
    project.build(run_demo_to_completion)
    result = project.cli("workflows", "describe", "demo")
    assert result.stdout == """\
Name:         demo
Script Name:  demo-app
Class Name:   Demo
Instance Status Counts:
  complete:         1
  errored:          0
  paused:           0
  queued:           0
  running:          0
  terminated:       0
  waiting:          0
  waitingForPause:  0
"""
    data = json.loads(project.cli("workflows", "describe", "demo", "--json").stdout)
    assert data["instances"]["complete"] == 1 and data["class_name"] == "Demo"


def test_workflows_delete_with_yes_removes_every_instance(project: Project) -> None:
    project.build(run_demo_to_completion)
    result = project.cli("workflows", "delete", "demo", "--yes")
    assert result.stdout == '✅ Workflow "demo" instances removed successfully (1 instance).\n'
    assert "There are no instances" in project.cli("workflows", "instances", "list", "demo").stderr
    assert json.loads(project.cli("workflows", "delete", "demo", "--json", "-y").stdout) == {
        "status": "ok", "success": True}


def test_workflows_delete_without_a_terminal_to_ask_on_needs_yes(project: Project) -> None:
    project.build(run_demo_to_completion)
    before = project.dump()
    for extra in ([], ["--json"]):
        result = project.cli("workflows", "delete", "demo", *extra)
        assert result.exit_code == 1
        assert result.stderr == ('✘ [ERROR] Deleting every instance of workflow "demo" (1 '
                                 "instance) cannot be undone, and there is no terminal to confirm "
                                 "it on: pass --yes to delete them.\n")
    assert project.dump() == before


def test_workflows_delete_asks_first_in_a_terminal(project: Project) -> None:
    project.build(run_demo_to_completion)
    before = project.dump()
    asking = replace(fixed_runtime(), input_terminal=True)
    declined = project.cli("workflows", "delete", "demo", runtime=asking, input="n\n")
    assert declined.exit_code == 1
    assert declined.stdout == ('Delete every instance of workflow "demo" (1 instance) and all '
                               "their state? [y/N]: n\n")
    assert declined.stderr == "Nothing was deleted.\n"
    assert project.dump() == before
    accepted = project.cli("workflows", "delete", "demo", runtime=asking, input="y\n")
    assert accepted.exit_code == 0
    assert accepted.stdout.endswith('✅ Workflow "demo" instances removed successfully '
                                    "(1 instance).\n")
    assert project.cli("workflows", "delete", "demo").exit_code == 0  # nothing left: no question


def test_trigger_time_scale_without_wait_is_refused(project: Project) -> None:
    result = project.cli("workflows", "trigger", "demo", "--time-scale", "60")
    assert result.exit_code == 1
    assert result.stderr == ("✘ [ERROR] --time-scale speeds up the engine that --wait runs in this "
                             "process, so it needs --wait. Add --wait, or give --time-scale to "
                             "`pyflow dev` instead.\n")
    assert not project.db.exists()


def test_trigger_creates_a_queued_cli_instance_and_says_no_engine_runs(project: Project) -> None:
    result = project.cli("workflows", "trigger", "demo", '{"a": 1}', "--id", "t-1")
    assert result.exit_code == 0
    assert result.stdout == '🚀 Workflow instance "t-1" has been triggered successfully\n'
    assert result.stderr.startswith("No engine is running on this project's state: the instance runs "
                                    'when one starts ("pyflow dev"')
    details = json.loads(project.cli("workflows", "instances", "describe", "demo", "t-1", "--json").stdout)
    assert details["status"] == "queued"
    assert details["params"] == {"a": 1}
    assert details["trigger"] == {"source": int(TriggerSource.CLI)}
    described = project.cli("workflows", "instances", "describe", "demo", "t-1").stdout
    assert "Trigger:        🖥️ CLI\n" in described


def test_trigger_accepts_any_json_value_and_prints_json(project: Project) -> None:
    result = project.cli("workflows", "trigger", "demo", "[1, 2]", "--json")
    created = json.loads(result.stdout)["id"]
    details = json.loads(project.cli("workflows", "instances", "describe", "demo", created, "--json").stdout)
    assert details["params"] == [1, 2]


def test_trigger_with_invalid_json_is_refused_and_writes_nothing(project: Project) -> None:
    project.build(run_demo_to_completion)
    before = project.dump()
    result = project.cli("workflows", "trigger", "demo", "{'a': 1}")
    assert result.exit_code == 1
    assert result.stderr == ('✘ [ERROR] Error while parsing instance parameters: "{\'a\': 1}" with '
                             "SyntaxError: Expecting property name enclosed in double quotes: line 1 "
                             "column 2 (char 1)' \n")
    assert project.dump() == before


def test_trigger_of_an_unknown_workflow_lists_the_defined_ones(project: Project) -> None:
    result = project.cli("workflows", "trigger", "billing")
    assert result.exit_code == 1
    assert result.stderr == ('✘ [ERROR] Workflow "billing" is not defined in wrangler.toml (defined: '
                             "demo, failing, sleeper). Check the [[workflows]] name.\n")
    assert not project.db.exists()


async def _one(env: WorkflowTestEnv) -> None:
    await env.service.create("sleeper", "taken")
    await env.settle()


def test_trigger_with_a_taken_or_invalid_id_is_refused(project: Project) -> None:
    project.build(_one)
    before = project.dump()
    taken = project.cli("workflows", "trigger", "sleeper", "--id", "taken")
    assert taken.exit_code == 1
    assert taken.stderr == ('✘ [ERROR] Instance "taken" already exists. Choose another --id, or omit it '
                            "to get a generated one.\n")
    invalid = project.cli("workflows", "trigger", "sleeper", "--id", "no spaces")
    assert invalid.exit_code == 1
    assert invalid.stderr.startswith("✘ [ERROR] Invalid instance id 'no spaces'")
    assert project.dump() == before
