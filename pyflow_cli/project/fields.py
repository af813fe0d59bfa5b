"""Type and shape checks for wrangler config values, each failing with a located ConfigError.

Every message has the shape ``<file>: <key path>: <problem>``, names the bad value, and where it
helps says what to write instead, e.g. ``wrangler.toml: workflows[0].class_name: expected a
string, got 3.``
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Mapping

from pyflow_cli.engine.errors import ConfigError
from pyflow_cli.project.unemulated import SECTION_KEYS

TOP_LEVEL_KEYS = frozenset(
    {
        "name", "main", "compatibility_date", "compatibility_flags", "workflows", "vars",
        "triggers", "env", "account_id", "workers_dev", "routes", "route", "observability",
        "placement", "limits", "build", "rules", "no_bundle", "minify", "keep_vars",
        "send_metrics", "dev", "durable_objects", "kv_namespaces", "d1_databases", "r2_buckets",
        "queues", "services", "ai", "migrations", "assets", "upload_source_maps", "logpush",
        "tail_consumers", "python_modules", "find_additional_modules", "base_dir",
        "preserve_file_names", "$schema",
    }
) | SECTION_KEYS  # fmt: skip
# Wrangler only reads these at the top level; inside [env.<name>] they are mistakes.
TOP_LEVEL_ONLY_KEYS = frozenset({"env", "$schema", "send_metrics", "dev", "keep_vars"})
ENV_KEYS = TOP_LEVEL_KEYS - TOP_LEVEL_ONLY_KEYS

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SHOWN_CHARS = 60


def show(value: object) -> str:
    """Render a config value as the user wrote it (JSON/TOML style), shortened if long."""
    if isinstance(value, datetime.date | datetime.time):
        text = value.isoformat()  # an unquoted TOML date or time
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def join(names: Iterable[str]) -> str:
    """``a, b`` for a message listing names, or ``none``."""
    return ", ".join(names) or "none"


class Fields:
    """Checks values read from one config file; ``label`` names that file in every message."""

    def __init__(self, label: str) -> None:
        self.label = label

    def error(self, path: str, problem: str) -> ConfigError:
        """A ConfigError located at ``path`` (e.g. ``workflows[0].name``) in this file."""
        return ConfigError(f"{self.label}: {path}: {problem}")

    def string(self, value: object, path: str) -> str:
        """``value`` if it is a string."""
        if not isinstance(value, str):
            raise self.error(path, f"expected a string, got {show(value)}.")
        return value

    def strings(self, value: object, path: str) -> tuple[str, ...]:
        """``value`` as a tuple if it is a list of strings."""
        if not isinstance(value, list):
            raise self.error(path, f"expected a list of strings, got {show(value)}.")
        return tuple(self.string(item, f"{path}[{i}]") for i, item in enumerate(value))

    def table(self, value: object, path: str) -> dict[str, object]:
        """``value`` if it is a table (a JSON object)."""
        if not isinstance(value, dict):
            raise self.error(path, f"expected a table, got {show(value)}.")
        return value

    def tables(self, value: object, path: str) -> list[dict[str, object]]:
        """``value`` if it is a list of tables (``[[section]]`` in TOML)."""
        if not isinstance(value, list):
            raise self.error(path, f"expected a list of tables, got {show(value)}.")
        return [self.table(item, f"{path}[{i}]") for i, item in enumerate(value)]

    def known_keys(self, table: Mapping[str, object], allowed: frozenset[str], where: str) -> None:
        """Reject keys outside ``allowed``, worded as wrangler words it."""
        unknown = [key for key in table if key not in allowed]
        if unknown:
            found = ", ".join(f'"{key}"' for key in unknown)
            raise ConfigError(
                f"{self.label}: Unexpected fields found in {where} field: {found}. "
                "Remove them or fix their spelling."
            )

    def date(self, value: object, path: str) -> str:
        """A ``YYYY-MM-DD`` string naming a real date; TOML's unquoted dates are refused, as
        wrangler refuses them."""
        text = value if isinstance(value, str) else None
        if text is None or not _DATE.fullmatch(text) or not _is_real_date(text):
            raise self.error(path, f'expected a date string like "2025-10-01", got {show(value)}.')
        return text

    def crons(self, value: object, path: str) -> tuple[str, ...]:
        """A list of five-field cron expressions (minute hour day-of-month month day-of-week)."""
        crons = self.strings(value, path)
        for i, cron in enumerate(crons):
            if len(cron.split()) != 5:
                raise self.error(
                    f"{path}[{i}]",
                    f"{show(cron)} is not a cron expression. Use 5 fields: "
                    'minute hour day-of-month month day-of-week, e.g. "*/5 * * * *".',
                )
        return crons


def _is_real_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True
