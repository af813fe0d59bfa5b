"""The engine and the service on a PostgreSQL store: the same tests as on SQLite — steps and
retries, sleeps (resident and hibernated), event waits, pause and resume, terminate, restart,
delete, the service's reads — collected here a second time with ``engine_store`` naming a
schema of the session's PostgreSQL server."""

from __future__ import annotations

import pytest
from pgcluster import Server
from test_engine_control import (  # noqa: F401  # collected again, on PostgreSQL
    _reset,
    test_delete_removes_the_instance_and_stops_it,
    test_full_restart_reruns_every_step,
    test_pause_during_sleep_pauses_at_once_and_shifts_timers,
    test_pause_while_a_step_runs_waits_for_it,
    test_restart_from_a_step_replays_earlier_steps_from_cache,
    test_resume_before_the_pause_lands_cancels_it,
    test_terminate_stops_a_running_instance_and_refuses_a_finished_one,
)
from test_engine_service import (  # noqa: F401
    test_create_batch_skips_existing_and_repeated_ids,
    test_create_generates_a_uuid_and_rejects_bad_and_duplicate_ids,
    test_list_pages_filters_and_latest,
    test_status_shape_matches_the_reference,
)
from test_engine_steps import (  # noqa: F401
    test_completed_step_is_not_rerun_on_replay,
    test_exhausted_retries_reraise_the_original_exception_into_run,
    test_parallel_steps_with_gather,
    test_retries_follow_exponential_backoff_with_documented_default_delay,
)
from test_engine_waits import (  # noqa: F401
    test_a_consumed_event_is_not_delivered_again_after_pause_and_resume,
    test_event_sent_before_the_wait_is_buffered,
    test_events_are_fifo_per_type_case_sensitive_and_consumed_once,
    test_long_sleep_takes_no_wall_time_and_is_logged,
    test_wait_timeout_fails_the_instance_when_uncaught,
)


@pytest.fixture
def engine_store(postgres: Server) -> str:
    return postgres.location()
