"""Several projects (Worker scripts) in one ``pyflow dev``, and workflows bound across them.

A ``[[workflows]]`` entry whose ``script_name`` is another Worker's name binds to a workflow
that Worker defines: its class lives there, not in this project. ``pyflow dev -c a/wrangler.toml
-c b/wrangler.toml`` serves both, as wrangler does with several ``-c``: the first config's Worker
answers HTTP, every project's workflows run in the one engine on the first project's store, and
a binding in one project reaches a workflow defined in another. Workflow names are unique across
the projects served (on the platform they are unique per account), and so are Worker names.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyflow_cli.engine.errors import ConfigError
from pyflow_cli.project.config import ProjectConfig, WorkflowConfig


def is_external(project: ProjectConfig, workflow: WorkflowConfig) -> bool:
    """Whether ``workflow`` is defined by another Worker (its ``script_name``)."""
    return workflow.script_name is not None and workflow.script_name != project.name


def check_served(projects: Sequence[ProjectConfig]) -> None:
    """``ConfigError`` if two of the projects served together have one Worker name, or define
    one workflow."""
    names: dict[str, ProjectConfig] = {}
    defined: dict[str, ProjectConfig] = {}
    for project in projects:
        other = names.setdefault(project.name, project)
        if other is not project:
            raise ConfigError(
                f'Two configs name their Worker "{project.name}" ({_shown(other)} and '
                f"{_shown(project)}): each Worker pyflow dev serves needs a name of its own.")
        for workflow in project.workflows:
            if is_external(project, workflow):
                continue
            first = defined.setdefault(workflow.name, project)
            if first is not project:
                raise ConfigError(
                    f'Workflow "{workflow.name}" is defined by two Workers ("{first.name}" in '
                    f'{_shown(first)} and "{project.name}" in {_shown(project)}); workflow names '
                    "are unique across the Workers served. Rename one, or bind it from the other "
                    "with script_name.")


def unserved(projects: Sequence[ProjectConfig]) -> list[tuple[ProjectConfig, WorkflowConfig]]:
    """The workflow bindings to Workers none of ``projects`` is."""
    served = {project.name for project in projects}
    return [(project, workflow) for project in projects for workflow in project.workflows
            if is_external(project, workflow) and workflow.script_name not in served]


def _shown(project: ProjectConfig) -> str:
    return str(project.config_path)
