"""The control table (``engine/status.py``): every status × every action (SPEC §1.3)."""

from __future__ import annotations

from typing import Any

import pytest

from pyflow_cli.bindings import WorkflowBinding
from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.errors import WorkflowError
from pyflow_cli.engine.status import (
    CANNOT_TERMINATE,
    RULES,
    TRANSITIONS,
    ControlAction,
    Effect,
    InstanceStatus,
    Transition,
    allowed_actions,
    control_effect,
    transition,
)

S = InstanceStatus
A = Transition(Effect.APPLIES)
NO_OP, REFUSED = Transition(Effect.NO_OP), Transition(Effect.REFUSED)


def applies(to: InstanceStatus | None) -> Transition:
    return Transition(Effect.APPLIES, to)


# status: (pause, resume, terminate, restart, delete), with pyflow's `waiting` (SPEC A5) where
# the reference says running.
EXPECTED = {
    S.QUEUED: (NO_OP, NO_OP, applies(S.TERMINATED), applies(S.QUEUED), applies(None)),
    S.RUNNING: (applies(S.PAUSED), NO_OP, applies(S.TERMINATED), applies(S.QUEUED), applies(None)),
    S.WAITING: (applies(S.PAUSED), NO_OP, applies(S.TERMINATED), applies(S.QUEUED), applies(None)),
    S.WAITING_FOR_PAUSE: (NO_OP, applies(S.RUNNING), applies(S.TERMINATED), applies(S.QUEUED),
                          applies(None)),
    S.PAUSED: (NO_OP, applies(S.QUEUED), applies(S.TERMINATED), applies(S.QUEUED), applies(None)),
    S.COMPLETE: (NO_OP, NO_OP, REFUSED, applies(S.QUEUED), applies(None)),
    S.ERRORED: (NO_OP, NO_OP, REFUSED, applies(S.QUEUED), applies(None)),
    S.TERMINATED: (NO_OP, NO_OP, REFUSED, applies(S.QUEUED), applies(None)),
}
ACTIONS = (ControlAction.PAUSE, ControlAction.RESUME, ControlAction.TERMINATE,
           ControlAction.RESTART, ControlAction.DELETE)


def test_the_table_covers_every_status_and_every_action() -> None:
    assert set(EXPECTED) == set(InstanceStatus)
    assert set(ACTIONS) == set(ControlAction)
    assert set(TRANSITIONS) == {(s, a) for s in InstanceStatus for a in ControlAction}


@pytest.mark.parametrize("status", list(InstanceStatus))
@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_in_each_status_follows_the_reference(status: InstanceStatus,
                                                          action: ControlAction) -> None:
    expected = EXPECTED[status][ACTIONS.index(action)]
    assert transition(status, action) == expected
    assert transition(status, action.value) == expected  # by its API name too
    assert control_effect(status, action) is expected.effect


def test_the_allowed_actions_are_those_that_change_the_instance() -> None:
    assert allowed_actions(S.RUNNING) == [ControlAction.PAUSE, ControlAction.TERMINATE,
                                          ControlAction.RESTART, ControlAction.DELETE]
    assert allowed_actions(S.PAUSED) == [ControlAction.RESUME, ControlAction.TERMINATE,
                                         ControlAction.RESTART, ControlAction.DELETE]
    assert allowed_actions(S.COMPLETE) == [ControlAction.RESTART, ControlAction.DELETE]


def test_every_action_has_its_rule_in_words() -> None:
    assert set(RULES) == set(ControlAction)
    assert RULES[ControlAction.TERMINATE] == ("Only a queued, running, waiting or paused "
                                              "instance can be terminated.")


def test_an_unknown_action_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        transition(S.RUNNING, "explode")


async def test_the_service_and_a_binding_refuse_a_disallowed_action_with_the_table_s_message(
        make_env: Any) -> None:
    """The CLI and the API show this same text (tests/cli, tests/server)."""
    class Done(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            return 1

    async with make_env({"wf": Done}) as env:
        await env.service.create("wf", "done")
        await env.run_until_done("wf", "done")
        expected = f"(instance.cannot_terminate) {CANNOT_TERMINATE}"
        with pytest.raises(WorkflowError) as by_service:
            await env.service.terminate("wf", "done")
        instance = await WorkflowBinding(env.service, "wf").get("done")
        with pytest.raises(WorkflowError) as by_binding:
            await instance.terminate()
        assert str(by_service.value) == str(by_binding.value) == expected
        # A no-op is no error: pausing a finished instance changes nothing.
        await instance.pause()
        assert (await env.service.resolve("wf", "done")).status is S.COMPLETE
