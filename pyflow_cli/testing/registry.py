"""What a test environment knows about the instances under test: each one's modifiers, the calls
of its recent lifetimes (for the replay-safety check), and the workflow-wide introspection
sessions whose modifications every new instance receives.

Everything here lives in the test process's memory for as long as the environment does, so it
holds across hibernation and replays; the engine reaches it through ``hooks_for``, which gives
each new lifetime its ``TestHooks``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyflow_cli.engine.modifiers import IntrospectionError, Modifiers, ObservedLifetime, TestHooks
from pyflow_cli.testing.replay import comparable, divergence


@dataclass(frozen=True)
class MockedEvent:
    """``mock_event``: an event sent to the instance (once it exists)."""

    type: str
    payload: Any


StateChange = Callable[[Modifiers], None]
Operation = StateChange | MockedEvent


@dataclass
class InstanceState:
    modifiers: Modifiers = field(default_factory=Modifiers)
    pending_events: list[MockedEvent] = field(default_factory=list)
    lifetimes: list[tuple[ObservedLifetime, TestHooks]] = field(default_factory=list)
    problem: str | None = None


@dataclass
class Session:
    """A workflow introspection session: the operations every instance created during it gets."""

    id: str
    workflow: str
    operations: list[Operation] = field(default_factory=list)
    instance_ids: list[str] = field(default_factory=list)


class Registry:
    """Per test environment: instances' modifiers and lifetimes, and the open sessions."""

    def __init__(self) -> None:
        self._instances: dict[tuple[str, str], InstanceState] = {}
        self._sessions: dict[str, Session] = {}

    def state(self, workflow: str, instance_id: str) -> InstanceState:
        return self._instances.setdefault((workflow, instance_id), InstanceState())

    def forget(self, workflow: str, instance_id: str) -> None:
        """Drop everything about an instance (it was disposed of)."""
        self._instances.pop((workflow, instance_id), None)

    # -- the engine's side ---------------------------------------------------------------------
    def hooks_for(self, life: ObservedLifetime) -> TestHooks:
        """The hooks of a lifetime that starts now; checks the lifetimes before it first."""
        state = self.state(life.instance.workflow, life.instance.id)
        self._check(life.instance.workflow, life.instance.id, state)
        hooks = TestHooks(state.modifiers, life.definition.source_roots)
        # Every pair before the last has been checked: only the last is compared again.
        state.lifetimes = [*state.lifetimes[-1:], (life, hooks)]
        return hooks

    # -- the replay-safety check ---------------------------------------------------------------
    def problem(self, workflow: str, instance_id: str) -> str | None:
        """What the check found wrong with an instance's replays so far, if anything."""
        state = self._instances.get((workflow, instance_id))
        if state is None:
            return None
        self._check(workflow, instance_id, state)
        return state.problem

    def problems(self) -> list[str]:
        found = [self.problem(workflow, instance_id) for workflow, instance_id in self._instances]
        return [problem for problem in found if problem is not None]

    @staticmethod
    def _check(workflow: str, instance_id: str, state: InstanceState) -> None:
        if state.problem is not None:
            return
        pairs = zip(state.lifetimes, state.lifetimes[1:], strict=False)
        for (before, before_hooks), (after, after_hooks) in pairs:
            if comparable(before, after):
                state.problem = divergence(f"{workflow}/{instance_id}", before_hooks.calls,
                                           after_hooks.calls)
                if state.problem is not None:
                    return

    # -- workflow sessions ---------------------------------------------------------------------
    def start_session(self, workflow: str, binding: str) -> Session:
        if workflow in self._sessions:
            raise IntrospectionError(f"Workflow {json.dumps(workflow)} already has an active "
                               f"introspection session for binding {json.dumps(binding)}.")
        session = self._sessions[workflow] = Session(str(uuid.uuid4()), workflow)
        return session

    def stop_session(self, session: Session) -> None:
        if self._sessions.get(session.workflow) is session:
            del self._sessions[session.workflow]

    def session(self, workflow: str) -> Session | None:
        return self._sessions.get(workflow)
