"""Bindings a wrangler config can declare that pyflow does not emulate locally — Workers AI,
Queues, Durable Objects, Vectorize, Hyperdrive, service bindings and the rest.

Each becomes a stand-in on ``env`` (``compat/missing.py``): code that merely holds it runs; code
that uses it gets one line naming the binding, its config section and what to do. The dev banner
lists them under "Not available locally". (KV, R2 and D1 are emulated, elsewhere.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pyflow_cli.compat.missing import Missing
from pyflow_cli.engine.errors import ConfigError


@dataclass(frozen=True)
class _Section:
    key: str  # the config key
    kind: str  # what Cloudflare calls such a binding
    many: bool = True  # a list of tables (``[[vectorize]]``), else one table (``[ai]``)
    inner: str | None = None  # the list inside the table that holds the bindings
    name_key: str = "binding"  # the key that names the binding


SECTIONS = (
    _Section("ai", "Workers AI", many=False),
    _Section("browser", "Browser Rendering", many=False),
    _Section("images", "Images", many=False),
    _Section("version_metadata", "Version metadata", many=False),
    _Section("assets", "static assets", many=False),
    _Section("durable_objects", "Durable Object namespace", many=False, inner="bindings",
             name_key="name"),
    _Section("queues", "Queue producer", many=False, inner="producers"),
    _Section("vectorize", "Vectorize index"),
    _Section("hyperdrive", "Hyperdrive"),
    _Section("services", "service"),
    _Section("analytics_engine_datasets", "Analytics Engine dataset"),
    _Section("mtls_certificates", "mTLS certificate"),
    _Section("dispatch_namespaces", "dispatch namespace"),
    _Section("send_email", "Email sending", name_key="name"),
    _Section("secrets_store_secrets", "Secrets Store secret"),
    _Section("pipelines", "Pipelines"),
    _Section("ratelimits", "Rate Limiting", name_key="name"),
)
SECTION_KEYS = frozenset(section.key for section in SECTIONS)
"""Top-level config keys of bindings pyflow recognises but does not emulate."""


@dataclass(frozen=True)
class UnemulatedBinding:
    """``env.<name>``, declared in ``section`` of ``config_file``, which pyflow cannot serve."""

    name: str
    kind: str
    section: str
    config_file: str

    def stand_in(self) -> Missing:
        """What ``env.<name>`` holds under pyflow: a stand-in that explains itself when used."""
        return Missing(
            f"env.{self.name}",
            f"env.{self.name} is a {self.kind} binding ({self.section} in {self.config_file}), "
            "which pyflow does not emulate locally. Use it only in code that runs on Cloudflare "
            "(wrangler deploy, or wrangler dev --remote), or give your code a local stand-in.")

    def banner_line(self) -> str:
        return f"  - {self.name}: {self.kind} ({self.section})"


def unemulated_bindings(lookup: Callable[[str], tuple[object, str] | None],
                        config_file: str) -> tuple[UnemulatedBinding, ...]:
    """The bindings of every recognised section; ``lookup(key)`` gives a section's value and
    its key path (``env.staging.ai``), or None when the config has none."""
    found: list[UnemulatedBinding] = []
    for section in SECTIONS:
        located = lookup(section.key)
        if located is None:
            continue
        value, path = located
        if section.inner is not None:
            value = value.get(section.inner) if isinstance(value, Mapping) else None
            path = f"{path}.{section.inner}"
            if value is None:
                continue
        entries = value if section.many or section.inner else [value]
        if not isinstance(entries, list):
            raise ConfigError(f"{config_file}: {path}: expected a list of tables, got "
                              f"{type(entries).__name__}.")
        for index, entry in enumerate(entries):
            where = f"{path}[{index}]" if section.many or section.inner else path
            if not isinstance(entry, Mapping):
                raise ConfigError(f"{config_file}: {where}: expected a table, got "
                                  f"{type(entry).__name__}.")
            name = entry.get(section.name_key)
            if name is None and not section.many and section.inner is None:
                continue  # e.g. [assets] without a binding: nothing reaches env
            if not isinstance(name, str) or not name.isidentifier():
                raise ConfigError(f"{config_file}: {where}.{section.name_key}: expected a binding "
                                  f"name such as \"MY_BINDING\", got {name!r}.")
            found.append(UnemulatedBinding(name, section.kind, path, config_file))
    return tuple(found)


def banner_lines(bindings: tuple[UnemulatedBinding, ...]) -> list[str]:
    """The dev banner's "Not available locally" block (empty when there are none)."""
    if not bindings:
        return []
    return ["Not available locally (pyflow does not emulate these; using one raises an error):",
            *(binding.banner_line() for binding in bindings)]


def stand_ins(bindings: tuple[UnemulatedBinding, ...]) -> dict[str, Missing]:
    """``env`` entries for the bindings."""
    return {binding.name: binding.stand_in() for binding in bindings}
