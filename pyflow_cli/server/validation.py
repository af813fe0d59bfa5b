"""Request validation for the local API, with the reference's zod messages (SPEC §5, §10).

The reference validates with zod 4 and reports each issue as ``"<path>: <message>"`` (no path:
just the message), e.g. ``per_page: Too big: expected number to be <=100``. Query values are
strings, coerced to numbers as JavaScript's ``Number()`` does before validation. The PATCH body
is a union of four shapes; as in zod, a body that fails every shape reports ``Invalid input``
unless exactly one shape failed only on refinements (lengths, bounds), whose issues are then
reported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyflow_cli.engine.limits import ADDRESSABLE_ID_PATTERN, MAX_ADDRESSABLE_ID_LENGTH
from pyflow_cli.engine.status import STATUS_NAMES

_JS_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_JS_PREFIXED = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")
_DATE = (r"(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29"
         r"|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)"
         r"|02-(?:0[1-9]|1\d|2[0-8])))")
_ISO_DATETIME = re.compile(rf"{_DATE}T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?Z")
_STATUS_OPTIONS = "|".join(f'"{s}"' for s in
                           ("queued", "running", "paused", "errored", "terminated", "complete",
                            "waitingForPause", "waiting"))
_STEP_TYPES = ("do", "sleep", "waitForEvent")
MAX_SAFE_INTEGER = 9007199254740991
MAX_SEARCH_LENGTH = 256
_ADDRESSABLE_PATTERN_SHOWN = r"/^[a-zA-Z0-9, *\/#_-]+$/"


class ValidationFailed(Exception):
    """One or more validation issues, each already formatted as ``"<path>: <message>"``."""

    def __init__(self, issues: Sequence[str]) -> None:
        super().__init__("; ".join(issues))
        self.issues = list(issues)


def js_type(value: Any) -> str:
    """zod's name for a value's type in ``received <type>`` messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "NaN" if isinstance(value, float) and math.isnan(value) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def js_number(text: str) -> float:
    """JavaScript's ``Number(text)``: blank is 0, hex/octal/binary prefixes, else NaN."""
    stripped = text.strip()
    if not stripped:
        return 0.0
    if stripped in ("Infinity", "+Infinity"):
        return math.inf
    if stripped == "-Infinity":
        return -math.inf
    prefixed = _JS_PREFIXED.fullmatch(stripped)
    if prefixed:
        return float(int(stripped, 0))
    if _JS_NUMBER.fullmatch(stripped):
        return float(stripped)
    return math.nan


def _plain(number: float) -> int | float:
    """A number as JSON would show it (``1`` rather than ``1.0``)."""
    return int(number) if number.is_integer() else number


def _issue(path: Sequence[str | int], message: str) -> str:
    return f"{'.'.join(str(p) for p in path)}: {message}" if path else message


def _too_small(kind: str, minimum: int, inclusive: bool = True) -> str:
    sign = ">=" if inclusive else ">"
    if kind == "string":
        return f"Too small: expected string to have {sign}{minimum} characters"
    if kind == "array":
        return f"Too small: expected array to have {sign}{minimum} items"
    return f"Too small: expected number to be {sign}{minimum}"


def _too_big(kind: str, maximum: int) -> str:
    if kind == "string":
        return f"Too big: expected string to have <={maximum} characters"
    if kind == "array":
        return f"Too big: expected array to have <={maximum} items"
    return f"Too big: expected number to be <={maximum}"


def _invalid_type(expected: str, value: Any) -> str:
    return f"Invalid input: expected {expected}, received {js_type(value)}"


# --- GET /workflows/:wf/instances -----------------------------------------------------------------

@dataclass(frozen=True)
class ListQuery:
    page: int | float = 1
    per_page: int | float = 25
    status: str | None = None
    date_start: str | None = None
    date_end: str | None = None
    id_prefix: str | None = None  # pyflow's additions: instances whose id starts with this,
    q: str | None = None  # and whose params, output or error contain this text,
    version: str | None = None  # and that record this version of the code (v2, or an id)


def parse_list_query(pairs: Sequence[tuple[str, str]]) -> ListQuery:
    """Validate the instance listing's query string (repeated keys become arrays, as in Hono)."""
    raw: dict[str, Any] = {}
    for key, value in pairs:
        if key in raw:
            previous = raw[key]
            raw[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            raw[key] = value
    values: dict[str, Any] = {}
    for key in ("page", "per_page"):  # coerced first; the first non-number stops validation
        if key in raw:
            given: Any = raw[key]
            if isinstance(given, str):
                number = js_number(given)
                if math.isnan(number):
                    raise ValidationFailed([_issue(
                        [key], f'Expected query param to be number but received "{given}"')])
                given = number
            values[key] = given
    issues: list[str] = []
    for key, minimum, maximum in (("page", 1, None), ("per_page", 1, 100)):
        if key not in values:
            continue
        value = values[key]
        if not isinstance(value, float) or math.isinf(value):
            received = "Infinity" if isinstance(value, float) else js_type(value)
            issues.append(_issue([key], f"Invalid input: expected number, received {received}"))
            continue
        if value < minimum:
            issues.append(_issue([key], _too_small("number", minimum)))
        if maximum is not None and value > maximum:
            issues.append(_issue([key], _too_big("number", maximum)))
    status = raw.get("status")
    if status is not None and status not in STATUS_NAMES:
        issues.append(_issue(["status"], f"Invalid option: expected one of {_STATUS_OPTIONS}"))
    for key in ("date_start", "date_end"):
        text: Any = raw.get(key)
        if text is None:
            continue
        if not isinstance(text, str):
            issues.append(_issue([key], _invalid_type("string", text)))
        elif not _ISO_DATETIME.fullmatch(text):
            issues.append(_issue([key], "Invalid ISO datetime"))
    for key in ("id_prefix", "q", "version"):
        text = raw.get(key)
        if text is not None and not isinstance(text, str):
            issues.append(_issue([key], _invalid_type("string", text)))
        elif text is not None and len(text) > MAX_SEARCH_LENGTH:
            issues.append(_issue([key], _too_big("string", MAX_SEARCH_LENGTH)))
    if issues:
        raise ValidationFailed(issues)
    return ListQuery(page=_plain(values.get("page", 1.0)), per_page=_plain(values.get("per_page", 25.0)),
                     status=status, date_start=raw.get("date_start"), date_end=raw.get("date_end"),
                     id_prefix=raw.get("id_prefix") or None, q=raw.get("q") or None,
                     version=raw.get("version") or None)


def is_iso_datetime(text: str) -> bool:
    """Whether ``text`` is an ISO datetime as the listing's date filters take them."""
    return _ISO_DATETIME.fullmatch(text) is not None


def parse_iso_ms(text: str) -> float:
    """Epoch milliseconds of a validated ISO datetime (``Date.parse``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000.0


# --- PATCH /workflows/:wf/instances/:id/status ---------------------------------------------------

@dataclass(frozen=True)
class StatusChange:
    status: str
    rollback: bool = False
    from_step: Mapping[str, Any] | None = None


def parse_status_body(body: Any) -> StatusChange:
    """Validate ``{status, rollback?, from?}``; messages as the reference's zod union gives them."""
    if isinstance(body, dict) and "rollback" in body and body.get("status") != "terminate":
        raise ValidationFailed(["'rollback' is only valid when terminating."])
    if not isinstance(body, dict):
        raise ValidationFailed(["Invalid input"])
    status = body.get("status")
    if status in ("pause", "resume"):
        return StatusChange(status)
    if status == "terminate":
        rollback = body.get("rollback", False)
        if "rollback" in body and not isinstance(rollback, bool):
            raise ValidationFailed(["Invalid input"])
        return StatusChange(status, rollback=bool(rollback))
    if status != "restart":
        raise ValidationFailed(["Invalid input"])
    if "from" not in body:
        return StatusChange(status)
    return StatusChange(status, from_step=_restart_from(body["from"]))


def _restart_from(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValidationFailed(["Invalid input"])
    name, count, step_type = value.get("name"), value.get("count", 1), value.get("type")
    if not isinstance(name, str):
        raise ValidationFailed(["Invalid input"])
    if not (isinstance(count, int | float) and _is_number(count) and float(count).is_integer()):
        raise ValidationFailed(["Invalid input"])
    if "type" in value and step_type not in _STEP_TYPES:
        raise ValidationFailed(["Invalid input"])
    issues: list[str] = []
    if len(name) < 1:
        issues.append(_issue(["from", "name"], _too_small("string", 1)))
    if len(name) > 256:
        issues.append(_issue(["from", "name"], _too_big("string", 256)))
    if "count" in value:
        if count <= 0:
            issues.append(_issue(["from", "count"], _too_small("number", 0, inclusive=False)))
        if count > MAX_SAFE_INTEGER:
            issues.append(_issue(["from", "count"], _too_big("number", MAX_SAFE_INTEGER)))
    if issues:
        raise ValidationFailed(issues)
    result: dict[str, Any] = {"name": name}
    if "count" in value:
        result["count"] = int(count)
    if "type" in value:
        result["type"] = step_type
    return result


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- POST /workflows/:wf/instances/batch/delete ----------------------------------------------------

def parse_batch_delete_body(body: Any) -> list[str]:
    """Validate ``{instances: [1-100 addressable ids]}``."""
    if not isinstance(body, dict):
        raise ValidationFailed([_invalid_type("object", body)])
    if "instances" not in body:
        raise ValidationFailed([_issue(["instances"], "Invalid input: expected array, received undefined")])
    instances = body["instances"]
    if not isinstance(instances, list):
        raise ValidationFailed([_issue(["instances"], _invalid_type("array", instances))])
    issues: list[str] = []
    element_aborted = False
    for index, item in enumerate(instances):
        path: list[str | int] = ["instances", index]
        if not isinstance(item, str):
            issues.append(_issue(path, _invalid_type("string", item)))
            element_aborted = True
            continue
        if len(item) < 1:
            issues.append(_issue(path, _too_small("string", 1)))
        if len(item) > MAX_ADDRESSABLE_ID_LENGTH:
            issues.append(_issue(path, _too_big("string", MAX_ADDRESSABLE_ID_LENGTH)))
        if not ADDRESSABLE_ID_PATTERN.match(item) or item.endswith("\n"):  # JS `$` is the very end
            issues.append(_issue(path, f"Invalid string: must match pattern {_ADDRESSABLE_PATTERN_SHOWN}"))
    if not element_aborted:
        if len(instances) < 1:
            issues.append(_issue(["instances"], _too_small("array", 1)))
        if len(instances) > 100:
            issues.append(_issue(["instances"], _too_big("array", 100)))
    if issues:
        raise ValidationFailed(issues)
    return list(instances)
