"""Step configuration: strict validation, defaults, and the pure retry-delay arithmetic (SPEC §2.2, §2.4).

A resolved config is a plain JSON-able dict in the reference's key order
(``retries.limit, retries.backoff, retries.delay, timeout[, sensitive]``); it is persisted with the
step's first execution and reused on every replay. A dynamic ``delay`` (a callable) cannot be stored:
it is kept beside the config for the current lifetime and omitted from the stored form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pyflow_cli.engine.durations import InvalidDurationError, parse_duration_ms
from pyflow_cli.engine.serde import encode_plain

DEFAULT_LIMIT = 5
DEFAULT_DELAY_MS = 10_000  # SPEC A2: the documented default, not the local reference's 1000
DEFAULT_BACKOFF = "exponential"
DEFAULT_TIMEOUT = "10 minutes"
BACKOFFS = ("constant", "linear", "exponential")
CONFIG_DOCS = "https://developers.cloudflare.com/workflows/build/sleeping-and-retrying/"

DelayFunction = Callable[..., Any]


class InvalidStepConfig(ValueError):
    """The config failed validation; ``reason`` says which part, for logs and debugging."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ResolvedConfig:
    """A validated step config with defaults merged."""

    stored: dict[str, Any]
    delay_function: DelayFunction | None = None

    @cached_property
    def stored_json(self) -> str:
        """``stored`` as JSON (written with every new step; the default config's is cached)."""
        return encode_plain(self.stored)

    @property
    def limit(self) -> int:
        return int(self.stored["retries"]["limit"])

    @property
    def backoff(self) -> str:
        return str(self.stored["retries"].get("backoff", "constant"))

    @property
    def timeout_ms(self) -> float:
        return parse_duration_ms(self.stored["timeout"])

    @property
    def base_delay_ms(self) -> float | None:
        """The static base delay, or None for a dynamic (function) delay."""
        if "delay" not in self.stored["retries"]:
            return None
        return parse_duration_ms(self.stored["retries"]["delay"])

    @property
    def sensitive_output(self) -> bool:
        return self.stored.get("sensitive") == "output"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_duration(value: object, what: str, allow_zero: bool) -> None:
    if _is_number(value):
        if value != value or value < 0 or (not allow_zero and value == 0):  # type: ignore[operator]
            raise InvalidStepConfig(f"{what} must be a number > 0 or a duration string")
        return
    if isinstance(value, str):
        try:
            ms = parse_duration_ms(value)
        except InvalidDurationError as exc:
            raise InvalidStepConfig(f"{what}: {exc}") from exc
        if not allow_zero and value.strip() and ms == 0 and _is_plain_number(value):
            raise InvalidStepConfig(f"{what} must not be 0")
        return
    raise InvalidStepConfig(f"{what} must be a number of milliseconds or a duration string")


def _is_plain_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def validate_config(config: object) -> None:
    """Raise ``InvalidStepConfig`` unless ``config`` matches the reference's strict schema."""
    if config is None:
        return
    if not isinstance(config, Mapping):
        raise InvalidStepConfig("config must be a dict")
    unknown = set(config) - {"retries", "timeout", "sensitive"}
    if unknown:
        raise InvalidStepConfig(f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    if "retries" in config:
        retries = config["retries"]
        if not isinstance(retries, Mapping):
            raise InvalidStepConfig("retries must be a dict")
        unknown = set(retries) - {"limit", "delay", "backoff"}
        if unknown:
            raise InvalidStepConfig(f"unknown key(s) in retries: {', '.join(sorted(map(str, unknown)))}")
        if "limit" not in retries or "delay" not in retries:
            raise InvalidStepConfig("retries needs both limit and delay")
        limit = retries["limit"]
        if not _is_number(limit) or limit < 0 or limit != limit:
            raise InvalidStepConfig("retries.limit must be a number >= 0")
        delay = retries["delay"]
        if not callable(delay):
            _check_duration(delay, "retries.delay", allow_zero=True)
        if "backoff" in retries and retries["backoff"] not in BACKOFFS:
            raise InvalidStepConfig("retries.backoff must be constant, linear or exponential")
    if "timeout" in config:
        _check_duration(config["timeout"], "timeout", allow_zero=False)
    if "sensitive" in config and config["sensitive"] != "output":
        raise InvalidStepConfig('sensitive must be "output"')


def resolve_config(config: Mapping[str, Any] | None) -> ResolvedConfig:
    """Merge a validated config over the defaults, shallowly per level (as the reference does)."""
    if not config:
        return _DEFAULT
    return _resolve(config)


def _resolve(config: Mapping[str, Any]) -> ResolvedConfig:
    retries = dict(config.get("retries") or {})
    delay = retries.get("delay", DEFAULT_DELAY_MS)
    stored_retries: dict[str, Any] = {
        "limit": retries.get("limit", DEFAULT_LIMIT),
        "backoff": retries.get("backoff", DEFAULT_BACKOFF),
    }
    if not callable(delay):
        stored_retries["delay"] = delay
    stored: dict[str, Any] = {"retries": stored_retries, "timeout": config.get("timeout", DEFAULT_TIMEOUT)}
    if "sensitive" in config:
        stored["sensitive"] = config["sensitive"]
    return ResolvedConfig(stored, delay if callable(delay) else None)


_DEFAULT = _resolve({})


def delay_for(backoff: str, base_ms: float, failed_attempt: int) -> float:
    """Milliseconds to wait after attempt ``failed_attempt`` (1-based) failed."""
    if backoff == "linear":
        return base_ms * failed_attempt
    if backoff == "exponential":
        return base_ms * float(2 ** (failed_attempt - 1))
    return base_ms


def will_retry(limit: int, failed_attempt: int) -> bool:
    """``limit`` counts retries, so attempt n is followed by another while n <= limit."""
    return failed_attempt <= limit
