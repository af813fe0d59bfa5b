"""The platform's rules for running instances (the Workflows limits page), as values, and the
decisions taken from them: how many instances may run at once, how many may wait in ``queued``,
how fast new ones may be created, and how long finished ones are kept.

The decisions are taken by the store, inside the transaction that acts on them, so that they
hold across every engine and every process on one store: a claim counts the instances running
in the whole store and admits at most what is left of ``max_running``; a create counts the
queued instances and the recent creations. This module holds the arithmetic and the words, so
every backend decides and explains alike.

**What holds a slot.** An instance runs while an engine holds its lease. Under a running limit
an instance gives its lease up at every sleep, retry delay and event wait (it hibernates), so
sleeping and waiting instances hold no slot, as the docs say of the platform; one whose engine
stopped holds none once its lease expires.

**Admission order** (the docs: an instance resuming from sleep takes priority over newly queued
ones): first instances waking up — from a sleep, a retry delay or an awaited event: due
instances that are not ``queued`` — earliest due first; then instances whose lease expired
(their engine stopped); then ``queued`` instances — new, resumed or restarted — in the order
they became runnable, which for new ones is creation order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from pyflow_cli.engine.durations import InvalidDurationError, parse_duration_ms
from pyflow_cli.engine.errors import InvalidInputError, QueueFullError, RateLimitedError

DAY_MS = 86_400_000.0


@dataclass(frozen=True)
class CreationRate:
    """At most ``count`` new instances in any ``window_ms``."""

    count: int
    window_ms: float

    def describe(self) -> str:
        return f"{self.count} every {format_period(self.window_ms)}"


@dataclass(frozen=True)
class PlatformRules:
    """The limits one process applies (``None``: no limit, pyflow's default locally).

    ``origins`` says where each limit came from (``--plan free``, ``--max-running``...), for
    messages that tell the user what to change."""

    max_running: int | None = None
    max_queued: int | None = None
    retention_ms: float | None = None
    creation_rate: CreationRate | None = None
    plan: str | None = None
    origins: Mapping[str, str] = field(default_factory=dict)

    @property
    def limits_running(self) -> bool:
        """Whether a running limit is in force (waits then give up their slot)."""
        return self.max_running is not None

    @property
    def limits_creation(self) -> bool:
        return self.max_queued is not None or self.creation_rate is not None

    def origin(self, rule: str) -> str:
        return self.origins.get(rule, f"--{rule.replace('_', '-')}")

    def describe(self) -> list[str]:
        """One line per limit in force, for banners."""
        lines = []
        if self.max_running is not None:
            lines.append(f"at most {_instances(self.max_running)} running at once "
                         f"({self.origin('max_running')})")
        if self.max_queued is not None:
            lines.append(f"at most {_instances(self.max_queued)} queued "
                         f"({self.origin('max_queued')})")
        if self.creation_rate is not None:
            rate = self.creation_rate
            lines.append(f"at most {_instances(rate.count)} created every "
                         f"{format_period(rate.window_ms)} ({self.origin('creation_rate')})")
        if self.retention_ms is not None:
            lines.append(f"finished instances deleted {format_period(self.retention_ms)} after "
                         f"they end ({self.origin('retention')})")
        return lines


def _instances(count: int) -> str:
    return f"{count:,} instance{'s' if count != 1 else ''}"


PLANS: Mapping[str, PlatformRules] = {
    # The limits page: 25 / 4,500 concurrent instances, 10,000 / 100,000 queued, 100 creations
    # per 10 seconds on both plans; state kept 3 days (free) and 7 days (paid: the table says
    # 30, its footnote 7 — 7 is the default, 30 the most that can be asked for).
    "free": PlatformRules(25, 10_000, 3 * DAY_MS, CreationRate(100, 10_000.0), "free"),
    "paid": PlatformRules(4_500, 100_000, 7 * DAY_MS, CreationRate(100, 10_000.0), "paid"),
}

NO_RULES = PlatformRules()


def parse_rules(*, plan: str | None = None, max_running: str | None = None,
                max_queued: str | None = None, retention: str | None = None,
                names: Mapping[str, str] | None = None) -> PlatformRules:
    """The rules set by a plan and by single limits (which win over the plan's), from text as
    options and environment variables give it. ``names`` says what each value is called
    (``--max-running`` or ``PYFLOW_MAX_RUNNING``), for errors and for ``origins``."""
    called = {"plan": "--plan", "max_running": "--max-running", "max_queued": "--max-queued",
              "retention": "--retention", **(names or {})}
    rules = NO_RULES
    origins: dict[str, str] = {}
    if plan is not None:
        if plan not in PLANS:
            raise InvalidInputError(f'{called["plan"]} must be one of {", ".join(PLANS)} '
                                    f'(got "{plan}").')
        rules = PLANS[plan]
        origins = {rule: f"{called['plan']} {plan}" for rule in
                   ("max_running", "max_queued", "retention", "creation_rate")}
    max_running_value, max_queued_value = rules.max_running, rules.max_queued
    retention_ms = rules.retention_ms
    if max_running is not None:
        max_running_value = _positive_int(max_running, called["max_running"])
        origins["max_running"] = called["max_running"]
    if max_queued is not None:
        max_queued_value = _positive_int(max_queued, called["max_queued"])
        origins["max_queued"] = called["max_queued"]
    if retention is not None:
        retention_ms = parse_period_ms(retention, called["retention"])
        origins["retention"] = called["retention"]
    return replace(rules, max_running=max_running_value, max_queued=max_queued_value,
                   retention_ms=retention_ms, origins=origins)


def _positive_int(text: str, name: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidInputError(f'{name} must be a whole number of 1 or more (got "{text}").')
    return value


def parse_period_ms(text: str, name: str) -> float:
    """A positive duration such as ``7d``, ``12h``, ``30m`` or ``1s`` (any unit of the duration
    grammar), in milliseconds; ``InvalidInputError`` naming ``name`` otherwise."""
    try:
        value = parse_duration_ms(text)
    except InvalidDurationError:
        value = 0.0
    if not value > 0:
        raise InvalidInputError(f'{name} must be a duration such as 7d, 12h, 30m or 1s '
                                f'(got "{text}").')
    return value


def format_period(ms: float) -> str:
    """``604800000`` -> ``"7 days"``; the largest unit that divides it, else seconds."""
    for unit, size in (("day", DAY_MS), ("hour", 3_600_000.0), ("minute", 60_000.0),
                       ("second", 1000.0)):
        if ms >= size and ms % size == 0:
            count = int(ms // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{ms / 1000:g} seconds"


# -- decisions (taken by the store, in the transaction that acts on them) ----------------------------
@dataclass(frozen=True)
class RunningLimit:
    """What a claim under a running limit tells the store: the limit, and how many instances
    the claiming engine runs itself. The store counts the other engines' live leases; the
    claimant's own are counted from what it knows, so that its leases lapsing for a moment (a
    stalled heartbeat, a test clock that jumps) never look like free slots."""

    max_running: int
    own_running: int = 0


def admissible(others_running: int, limit: RunningLimit | None, wanted: int) -> int:
    """How many of ``wanted`` instances a claim may start, with ``others_running`` instances
    under other engines' live leases."""
    if limit is None:
        return wanted
    return max(0, min(wanted, limit.max_running - limit.own_running - others_running))


@dataclass(frozen=True)
class CreationLimits:
    """What a create must respect, as the store checks it: the queued limit and the creation
    rate, with the words that say where they come from; and whether new instances wait for a
    claim to admit them (under a running limit), which writes their ``WORKFLOW_START`` then."""

    max_queued: int | None = None
    rate: CreationRate | None = None
    queued_origin: str = "--max-queued"
    rate_origin: str = "--plan"
    start_on_admission: bool = False

    @classmethod
    def of(cls, rules: PlatformRules) -> CreationLimits | None:
        if not (rules.limits_creation or rules.limits_running):
            return None
        return cls(rules.max_queued, rules.creation_rate, rules.origin("max_queued"),
                   rules.origin("creation_rate"), rules.limits_running)


def creation_refusal(limits: CreationLimits, adding: int, queued: int,
                     recent_ms: Sequence[float], now_ms: float
                     ) -> RateLimitedError | QueueFullError | None:
    """Why creating ``adding`` instances must be refused now, if it must: ``queued`` instances
    wait already, and ``recent_ms`` (oldest first) are the creation times of the instances
    created within the rate's window before ``now_ms``."""
    rate = limits.rate
    if rate is not None and len(recent_ms) + adding > rate.count:
        # The creation that must leave the window before this one fits.
        must_leave = len(recent_ms) + adding - rate.count - 1
        leaves_at = (recent_ms[must_leave] + rate.window_ms if must_leave < len(recent_ms)
                     else now_ms + rate.window_ms)
        retry_s = max(0.001, (leaves_at - now_ms) / 1000.0)
        return RateLimitedError(
            f"Too many instances created: at most {rate.describe()} ({limits.rate_origin}), "
            f"and {len(recent_ms)} were created in the last {format_period(rate.window_ms)}. "
            f"Retry in {retry_s:.1f} s.", retry_s)
    if limits.max_queued is not None and queued + adding > limits.max_queued:
        return QueueFullError(
            f"Too many queued instances: at most {limits.max_queued:,} may wait to start "
            f"({limits.queued_origin}) and {queued:,} are queued. Try again once some have "
            "started.")
    return None
