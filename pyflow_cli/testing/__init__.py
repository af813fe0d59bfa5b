"""Testing workflows: ``WorkflowTestEnv`` (a real store, a clock that skips ahead), the
introspection API of Cloudflare's vitest integration in Python form, and the replay-safety
check. The pytest plugin (``pyflow_cli.pytest_plugin``) builds on these; docs/testing.md
teaches them.
"""

from pyflow_cli.engine.modifiers import IntrospectionError, Selector
from pyflow_cli.testing.env import WorkflowTestEnv
from pyflow_cli.testing.introspection import (
    InstanceIntrospector,
    StepFailedError,
    WorkflowIntrospector,
    introspect_workflow,
    introspect_workflow_instance,
    introspectWorkflow,
    introspectWorkflowInstance,
)
from pyflow_cli.testing.modifier import InstanceModifier
from pyflow_cli.testing.replay import NonDeterminismError

__all__ = [
    "InstanceIntrospector",
    "InstanceModifier",
    "IntrospectionError",
    "NonDeterminismError",
    "Selector",
    "StepFailedError",
    "WorkflowIntrospector",
    "WorkflowTestEnv",
    "introspectWorkflow",
    "introspectWorkflowInstance",
    "introspect_workflow",
    "introspect_workflow_instance",
]
