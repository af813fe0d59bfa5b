"""pause / resume / terminate / restart / send-event / delete / terminate-all, on the store directly
(no engine running), with the reference's success lines and one clear line for refused input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clikit import Project, run_demo_to_completion

from pyflow_cli.testing import WorkflowTestEnv


async def _mixed(env: WorkflowTestEnv) -> None:
    """golden-1 complete, then nap-1 and nap-2 sleeping (waiting) in ``sleeper``."""
    await run_demo_to_completion(env)
    for name in ("nap-1", "nap-2"):
        await env.service.create("sleeper", name)
        await env.settle()
        env.clock.advance(1000)
    await env.settle()


@pytest.fixture
def mixed(project: Project) -> Project:
    project.build(_mixed)
    return project


def status(project: Project, workflow: str, instance_id: str) -> str:
    result = project.cli("workflows", "instances", "describe", workflow, instance_id, "--json")
    return str(json.loads(result.stdout)["status"])


def refused(project: Project, *args: str) -> str:
    """Run a command that must fail: one error line, exit 1, nothing stored changed."""
    before = project.dump()
    result = project.cli(*args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("✘ [ERROR] ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert project.dump() == before
    return result.stderr.removeprefix("✘ [ERROR] ").rstrip()


def test_pause_then_resume_a_sleeping_instance(mixed: Project) -> None:
    paused = mixed.cli("workflows", "instances", "pause", "sleeper", "nap-1")
    assert paused.stdout == '⏸️ The instance "nap-1" from sleeper was paused successfully\n'
    assert paused.stderr == ""  # a pause needs no engine to take effect
    assert status(mixed, "sleeper", "nap-1") == "paused"
    resumed = mixed.cli("workflows", "instances", "resume", "sleeper", "nap-1")
    assert resumed.stdout == '🔄 The instance "nap-1" from sleeper was resumed successfully\n'
    assert "No engine is running on this project's state: it continues when one starts" in \
        resumed.stderr
    assert status(mixed, "sleeper", "nap-1") == "queued"


def test_latest_is_the_newest_instance(mixed: Project) -> None:
    result = mixed.cli("workflows", "instances", "pause", "sleeper", "latest", "--json")
    assert json.loads(result.stdout)["status"] == "paused"
    assert status(mixed, "sleeper", "nap-2") == "paused"
    assert status(mixed, "sleeper", "nap-1") == "waiting"


PAUSE_RULE = "Only a running or waiting instance can be paused."
RESUME_RULE = "Only a paused instance, or one waiting to pause, can be resumed."


def nothing_changed(project: Project, *args: str) -> str:
    """Run a control command that changes nothing (SPEC §1.3: a silent no-op in the reference):
    exit 0, one warning, nothing stored changed."""
    before = project.dump()
    result = project.cli(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("▲ [WARNING] ") and result.stderr.count("\n") == 1
    assert project.dump() == before
    return result.stderr.removeprefix("▲ [WARNING] ").rstrip()


def test_pause_and_resume_that_change_nothing_warn_alike(mixed: Project) -> None:
    mixed.cli("workflows", "instances", "pause", "sleeper", "nap-2")
    mixed.cli("workflows", "trigger", "sleeper", "--id", "fresh")
    cases = [("pause", "sleeper", "nap-2", "paused", PAUSE_RULE),
             ("pause", "sleeper", "fresh", "queued", PAUSE_RULE),
             ("pause", "demo", "golden-1", "complete", PAUSE_RULE),
             ("resume", "sleeper", "nap-1", "waiting", RESUME_RULE),
             ("resume", "sleeper", "fresh", "queued", RESUME_RULE),
             ("resume", "demo", "golden-1", "complete", RESUME_RULE)]
    for verb, workflow, instance_id, was, rule in cases:
        doing = {"pause": "pausing", "resume": "resuming"}[verb]
        assert nothing_changed(mixed, "workflows", "instances", verb, workflow, instance_id) == (
            f'Instance "{instance_id}" is {was}: {doing} it changes nothing. {rule}')


def test_a_no_op_with_json_prints_the_status_as_the_api_does(mixed: Project) -> None:
    result = mixed.cli("workflows", "instances", "resume", "sleeper", "nap-1", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "waiting"
    assert result.stderr.startswith('▲ [WARNING] Instance "nap-1" is waiting: resuming it')


def test_terminate(mixed: Project) -> None:
    result = mixed.cli("workflows", "instances", "terminate", "sleeper", "nap-1")
    assert result.stdout == '🥷 The instance "nap-1" from sleeper was terminated successfully\n'
    assert result.stderr == ""  # a termination needs no engine to take effect
    assert status(mixed, "sleeper", "nap-1") == "terminated"
    as_json = json.loads(mixed.cli("workflows", "instances", "terminate", "sleeper", "nap-2",
                                   "--json").stdout)
    assert as_json["status"] == "terminated" and as_json["timestamp"].endswith("Z")


def test_terminate_of_a_finished_instance_is_refused(mixed: Project) -> None:
    assert refused(mixed, "workflows", "instances", "terminate", "demo", "golden-1") == (
        "WorkflowError: (instance.cannot_terminate) Cannot terminate instance since its on a finite "
        "state. Only a queued, running, waiting or paused instance can be terminated.")


def test_terminate_with_rollback_without_pyflow_dev_is_refused(mixed: Project) -> None:
    """Rollbacks are the user's code: the CLI does not run it on its own."""
    assert refused(mixed, "workflows", "instances", "terminate", "sleeper", "nap-1",
                   "--rollback") == (
        "WorkflowError: Terminating with rollback runs your rollback functions, so it needs the "
        "workflow's code, which this process does not run. Start `pyflow dev` and run this again.")


@pytest.mark.parametrize("command", [
    ["describe"], ["pause"], ["resume"], ["terminate"], ["restart"], ["logs"],
    ["send-event", "--type", "x"],
])
def test_an_unknown_instance_id_is_one_clear_line(mixed: Project, command: list[str]) -> None:
    verb, *options = command
    message = refused(mixed, "workflows", "instances", verb, "sleeper", "nope", *options)
    assert message == ('Workflow instance "nope" not found in workflow "sleeper". Check the id with '
                       "`pyflow workflows instances list sleeper`.")


@pytest.mark.parametrize("verb", ["describe", "pause", "terminate", "logs"])
def test_latest_without_instances_is_one_clear_line(mixed: Project, verb: str) -> None:
    assert refused(mixed, "workflows", "instances", verb, "failing", "latest") == (
        'There are no instances in workflow "failing"')


def test_restart_from_the_start_and_from_a_step(mixed: Project) -> None:
    again = mixed.cli("workflows", "instances", "restart", "demo", "golden-1")
    assert again.stdout == '🥷 The instance "golden-1" from demo was restarted successfully\n'
    assert "No engine is running on this project's state: it runs again when one starts" in \
        again.stderr
    details = json.loads(mixed.cli("workflows", "instances", "describe", "demo", "golden-1",
                                   "--json").stdout)
    assert details["status"] == "queued" and details["steps"] == []


def test_restart_from_a_step_keeps_the_steps_before_it(mixed: Project) -> None:
    result = mixed.cli("workflows", "instances", "restart", "demo", "golden-1", "--from-step-name",
                       "flaky", "--from-step-type", "do", "--from-step-count", "1")
    assert result.exit_code == 0, result.output
    details = json.loads(mixed.cli("workflows", "instances", "describe", "demo", "golden-1",
                                   "--json").stdout)
    assert [s["name"] for s in details["steps"]] == ["fetch-1", "nap-1"]


@pytest.mark.parametrize(("options", "message"), [
    (["--from-step-count", "2"], "--from-step-name is required when using --from-step-count or "
                                 "--from-step-type"),
    (["--from-step-type", "sleep"], "--from-step-name is required when using --from-step-count or "
                                    "--from-step-type"),
    (["--from-step-name", "x", "--from-step-count", "0"], "--from-step-count must be a positive integer"),
    (["--from-step-name", "x", "--from-step-type", "nap"],
     '--from-step-type must be one of do, sleep, waitForEvent (got "nap").'),
    (["--from-step-name", "missing"], 'WorkflowError: (instance.cannot_restart) Step "missing" not found '
                                      "in execution history. Check the step names with `pyflow "
                                      "workflows instances describe`."),
])
def test_bad_restart_options_are_refused(mixed: Project, options: list[str], message: str) -> None:
    assert refused(mixed, "workflows", "instances", "restart", "demo", "golden-1", *options) == message


def test_send_event(mixed: Project) -> None:
    result = mixed.cli("workflows", "instances", "send-event", "sleeper", "nap-1", "--type", "go",
                       "--payload", '{"x": 1}')
    assert result.stdout == ('📤 The event with type "go" and payload "{"x": 1}" was sent to the '
                             'instance "nap-1" from sleeper\n')
    bare = mixed.cli("workflows", "instances", "send-event", "sleeper", "nap-1", "--type", "go")
    assert bare.stdout == '📤 The event with type "go" was sent to the instance "nap-1" from sleeper\n'
    assert json.loads(mixed.cli("workflows", "instances", "send-event", "sleeper", "nap-1", "--type",
                                "go", "--json").stdout) == {"success": True}


def test_send_event_with_a_bad_payload_is_refused(mixed: Project) -> None:
    assert refused(mixed, "workflows", "instances", "send-event", "sleeper", "nap-1", "--type", "go",
                   "--payload", "{nope") == (
        'Error while parsing event payload: "{nope" with SyntaxError: Expecting property name '
        "enclosed in double quotes: line 1 column 2 (char 1)'")


def test_delete_by_ids_and_file(mixed: Project, tmp_path: Path) -> None:
    listing = tmp_path / "ids.json"
    listing.write_text('["nap-2"]')
    result = mixed.cli("workflows", "instances", "delete", "sleeper", "nap-1", "--filename", str(listing))
    assert result.stdout == '🗑️  Deleted workflow instances from "sleeper": "nap-1", "nap-2"\n'
    assert "There are no instances" in mixed.cli("workflows", "instances", "list", "sleeper").stderr


def test_delete_reports_the_ids_it_could_not_delete(mixed: Project) -> None:
    result = mixed.cli("workflows", "instances", "delete", "sleeper", "nap-1", "ghost")
    assert result.exit_code == 1
    assert result.stdout == '🗑️  Deleted workflow instances from "sleeper": "nap-1"\n'
    assert result.stderr == ("✘ [ERROR] Failed to delete 1 workflow instance(s):\n"
                             '  - ghost: Workflow instance "ghost" not found in workflow "sleeper". '
                             "Check the id with `pyflow workflows instances list sleeper`.\n")


def test_bad_delete_input_is_refused(mixed: Project, tmp_path: Path) -> None:
    assert refused(mixed, "workflows", "instances", "delete", "sleeper") == (
        "Provide at least one workflow instance ID")
    many = [f"i{n}" for n in range(101)]
    assert refused(mixed, "workflows", "instances", "delete", "sleeper", *many) == (
        "You can delete at most 100 workflow instances at a time")
    bad = tmp_path / "bad.json"
    bad.write_text('{"ids": ["nap-1"]}')
    assert refused(mixed, "workflows", "instances", "delete", "sleeper", "--filename", str(bad)) == (
        f'Unexpected JSON input from "{bad}". Expected an array of strings.')


def test_terminate_all(mixed: Project) -> None:
    assert refused(mixed, "workflows", "instances", "terminate-all", "sleeper", "--status",
                   "complete") == ('Provided status "complete" is not valid, it must be one of the '
                                   "following: queued, running, paused, waitingForPause, waiting.")
    paused = mixed.cli("workflows", "instances", "terminate-all", "sleeper", "--status", "paused")
    assert paused.stderr.startswith('▲ [WARNING] No unfinished instances with status "paused"')
    result = mixed.cli("workflows", "instances", "terminate-all", "sleeper")
    assert result.stdout == '🥷 Terminated 2 instances of workflow "sleeper"\n'
    assert status(mixed, "sleeper", "nap-1") == status(mixed, "sleeper", "nap-2") == "terminated"
