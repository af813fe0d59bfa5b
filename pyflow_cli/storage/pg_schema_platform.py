"""PostgreSQL schema v2, the platform's rules (``engine/admission.py``, ``retention.py``,
``versions.py``; SQLite's v8): claims in admission order and under a running limit, creates under
the queued limit and the creation rate, each instance's end for retention, versions. A migration
of ``pg_schema.MIGRATIONS``, kept in a module of its own for its length; ``{schema}`` is the
schema's quoted name, as there."""

from __future__ import annotations

from pyflow_cli.storage.schema import FINISHED_SQL

PLATFORM_RULES = """
-- As SQLite's v8. Admission order (engine/admission.py): a claim reads instances waking up
-- (not queued), then expired leases, then queued ones, each class through its own index.
DROP INDEX {schema}.instances_claimable;
CREATE INDEX instances_claimable_waking ON {schema}.instances (runnable_at, iid)
    WHERE runnable_at IS NOT NULL AND lease_owner IS NULL AND status <> 'queued';
CREATE INDEX instances_claimable_queued ON {schema}.instances (runnable_at, iid)
    WHERE runnable_at IS NOT NULL AND lease_owner IS NULL AND status = 'queued';
-- The queued limit counts queued instances; the creation rate, the recent creations.
CREATE INDEX instances_queued ON {schema}.instances (iid) WHERE status = 'queued';
CREATE INDEX instances_by_creation ON {schema}.instances (created_ms);

-- Retention: when an instance reached a finished status, from the time of its last log row
-- (the WORKFLOW_SUCCESS / FAILURE / TERMINATED row apply_changes writes before the status).
ALTER TABLE {schema}.instances ADD COLUMN ended_ms double precision;
UPDATE {schema}.instances AS i SET ended_ms = COALESCE((SELECT MAX(l.ts) FROM {schema}.log l
    WHERE l.iid = i.iid AND l.event IN (2, 3, 4)), i.created_ms)
    WHERE i.status IN ({finished});
CREATE INDEX instances_by_end ON {schema}.instances (ended_ms) WHERE ended_ms IS NOT NULL;
CREATE FUNCTION {schema}.note_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status NOT IN ({finished}) THEN
        NEW.ended_ms := NULL;
    ELSIF OLD.status IS DISTINCT FROM NEW.status THEN
        NEW.ended_ms := COALESCE((SELECT ts FROM {schema}.log WHERE iid = NEW.iid
                                  ORDER BY seq DESC LIMIT 1), NEW.created_ms);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER instances_ended BEFORE UPDATE OF status ON {schema}.instances
    FOR EACH ROW EXECUTE FUNCTION {schema}.note_end();
CREATE INDEX inbox_by_instance ON {schema}.inbox (iid);

-- Versions of the user's code, numbered in the order first seen; each attempt's version.
CREATE TABLE {schema}.versions (
    id text PRIMARY KEY,
    number integer NOT NULL UNIQUE,
    first_seen_ms double precision NOT NULL
);
INSERT INTO {schema}.versions (id, number, first_seen_ms)
    SELECT version_id, ROW_NUMBER() OVER (ORDER BY MIN(created_ms), version_id), MIN(created_ms)
    FROM {schema}.instances WHERE version_id IS NOT NULL GROUP BY version_id;
CREATE INDEX instances_by_version ON {schema}.instances (version_id, workflow, created_ms);
ALTER TABLE {schema}.log ADD COLUMN version text;
CREATE FUNCTION {schema}.record_version(vid text, seen double precision)
RETURNS TABLE (id text, number integer, first_seen_ms double precision)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    -- Versions are numbered one at a time: the next number is the highest + 1.
    LOCK TABLE {schema}.versions IN SHARE ROW EXCLUSIVE MODE;
    INSERT INTO {schema}.versions AS v (id, number, first_seen_ms)
        SELECT vid, COALESCE(MAX(w.number), 0) + 1, seen FROM {schema}.versions w
        HAVING NOT EXISTS (SELECT 1 FROM {schema}.versions x WHERE x.id = vid);
    RETURN QUERY SELECT v.id, v.number, v.first_seen_ms FROM {schema}.versions v WHERE v.id = vid;
END
$$;

-- Creates under limits (a JSON object: q the queued limit, rc/rw the creation rate's count and
-- window, d whether new instances wait for their admission to get WORKFLOW_START). Counts are
-- taken under the admission lock, so creates and claims of every process are serialised while
-- they count. Returns {{"iids": [...]}} (NULL for an id its workflow has), or what the counts
-- were when the new instances do not fit: {{"queued": n, "recent": [times], "adding": n}}.
DROP FUNCTION {schema}.create_instances(jsonb, text, double precision, bigint, integer, integer);
CREATE FUNCTION {schema}.create_instances(news jsonb, owner text, expires double precision,
                                          epoch bigint, queued integer, started integer,
                                          limits jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    n jsonb;
    created bigint[] := '{{}}';
    new_iid bigint;
    fresh integer := 0;
    newest double precision;
    waiting bigint := 0;
    recent double precision[] := '{{}}';
    starts boolean := limits IS NULL OR NOT COALESCE((limits->>'d')::boolean, false);
BEGIN
    IF limits IS NOT NULL AND (limits->>'q' IS NOT NULL OR limits->>'rc' IS NOT NULL) THEN
        PERFORM pg_advisory_xact_lock(hashtext('pyflow admission {schema}'));
        SELECT count(*) INTO fresh FROM (SELECT DISTINCT e->>0 AS w, e->>1 AS d
            FROM jsonb_array_elements(news) AS e) AS f
            WHERE NOT EXISTS (SELECT 1 FROM {schema}.instances WHERE workflow = f.w AND id = f.d);
        SELECT MAX((e->>2)::float8) INTO newest FROM jsonb_array_elements(news) AS e;
        IF limits->>'q' IS NOT NULL THEN
            SELECT count(*) INTO waiting FROM {schema}.instances WHERE status = 'queued';
        END IF;
        IF limits->>'rc' IS NOT NULL THEN
            SELECT COALESCE(array_agg(created_ms ORDER BY created_ms), '{{}}') INTO recent
                FROM {schema}.instances WHERE created_ms > newest - (limits->>'rw')::float8;
        END IF;
        IF fresh > 0 AND ((limits->>'q' IS NOT NULL AND waiting + fresh > (limits->>'q')::bigint)
                OR (limits->>'rc' IS NOT NULL
                    AND cardinality(recent) + fresh > (limits->>'rc')::integer)) THEN
            RETURN jsonb_build_object('queued', waiting, 'recent', to_jsonb(recent),
                                      'adding', fresh);
        END IF;
    END IF;
    FOR n IN SELECT value FROM jsonb_array_elements(news) LOOP
        new_iid := NULL;
        -- Looked up first: a refused INSERT would still use up an iid.
        IF NOT EXISTS (SELECT 1 FROM {schema}.instances WHERE workflow = n->>0 AND id = n->>1) THEN
            INSERT INTO {schema}.instances (workflow, id, status, created_ms, params, version_id,
                                            trigger, runnable_at, lease_owner, lease_expires,
                                            lease_epoch)
            VALUES (n->>0, n->>1, 'queued', (n->>2)::float8, n->>3, n->>4, (n->>5)::integer,
                    (n->>2)::float8, owner, expires, epoch)
            ON CONFLICT (workflow, id) DO NOTHING
            RETURNING iid INTO new_iid;
        END IF;
        IF new_iid IS NOT NULL THEN
            INSERT INTO {schema}.log (iid, seq, ts, event, metadata)
            VALUES (new_iid, 1, (n->>2)::float8, queued, n->>6);
            IF starts THEN
                INSERT INTO {schema}.log (iid, seq, ts, event, metadata)
                VALUES (new_iid, 2, (n->>2)::float8, started, '{{}}');
            END IF;
        END IF;
        created := created || new_iid;
    END LOOP;
    RETURN jsonb_build_object('iids', to_jsonb(created));
END
$$;

-- A claim, in admission order, of at most ``wanted`` instances; under a running limit
-- (max_running not NULL) at most what the limit leaves once the claimant's own (``own``) and
-- the other owners' live leases are counted: the count is taken under the admission lock,
-- after which (each statement of a function has a snapshot of its own) every claim committed
-- before is seen, so two engines racing for the last slot are serialised. It writes the
-- WORKFLOW_START row of each queued instance it admits that has none yet.
CREATE FUNCTION {schema}.claim(owner text, now_ms double precision, expires double precision,
                               wanted integer, workflows text[], max_running integer,
                               own integer, started integer)
RETURNS SETOF {schema}.instances LANGUAGE plpgsql AS $$
DECLARE
    n integer := wanted;
    others bigint;
    picked bigint[];
BEGIN
    IF max_running IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('pyflow admission {schema}'));
        SELECT count(*) INTO others FROM {schema}.instances
            WHERE lease_owner IS NOT NULL AND lease_expires >= now_ms AND lease_owner <> owner;
        n := GREATEST(0, LEAST(wanted, max_running - own - others));
    END IF;
    IF n <= 0 OR cardinality(workflows) = 0 THEN
        RETURN;
    END IF;
    -- Rows another transaction holds are skipped, not waited for; each class is picked once.
    WITH waking AS MATERIALIZED (SELECT iid, 0 AS k, runnable_at AS o FROM {schema}.instances
            WHERE runnable_at IS NOT NULL AND lease_owner IS NULL AND status <> 'queued'
            AND runnable_at <= now_ms AND workflow = ANY(workflows)
            ORDER BY runnable_at, iid LIMIT n FOR UPDATE SKIP LOCKED),
         expired AS MATERIALIZED (SELECT iid, 1 AS k, lease_expires AS o FROM {schema}.instances
            WHERE lease_owner IS NOT NULL AND lease_expires < now_ms AND runnable_at <= now_ms
            AND workflow = ANY(workflows)
            ORDER BY lease_expires LIMIT n - (SELECT count(*) FROM waking) FOR UPDATE SKIP LOCKED),
         waiting AS MATERIALIZED (SELECT iid, 2 AS k, runnable_at AS o FROM {schema}.instances
            WHERE runnable_at IS NOT NULL AND lease_owner IS NULL AND status = 'queued'
            AND runnable_at <= now_ms AND workflow = ANY(workflows)
            ORDER BY runnable_at, iid
            LIMIT n - (SELECT count(*) FROM waking) - (SELECT count(*) FROM expired)
            FOR UPDATE SKIP LOCKED)
    SELECT array_agg(u.iid ORDER BY u.k, u.o, u.iid) INTO picked
        FROM (SELECT * FROM waking UNION ALL SELECT * FROM expired UNION ALL SELECT * FROM waiting)
        AS u;
    IF picked IS NULL THEN
        RETURN;
    END IF;
    -- A new holder means a new epoch; an engine taking back its own lease keeps it.
    UPDATE {schema}.instances AS i SET lease_owner = owner, lease_expires = expires,
        lease_epoch = i.lease_epoch + CASE WHEN i.lease_owner IS DISTINCT FROM owner THEN 1
                                           ELSE 0 END
        WHERE i.iid = ANY(picked) AND i.runnable_at <= now_ms
        AND (i.lease_owner IS NULL OR i.lease_expires < now_ms);
    IF max_running IS NOT NULL THEN
        -- Such a row is among an instance's first two; numbered on from its last, as ever.
        INSERT INTO {schema}.log (iid, seq, ts, event, metadata)
        SELECT i.iid, GREATEST(i.log_floor, COALESCE((SELECT MAX(l.seq) FROM {schema}.log l
                                                      WHERE l.iid = i.iid), 0)) + 1,
               now_ms, started, '{{}}'
        FROM {schema}.instances i
        WHERE i.iid = ANY(picked) AND i.lease_owner = owner AND i.lease_expires = expires
        AND i.status = 'queued' AND NOT EXISTS (
            SELECT 1 FROM (SELECT l.event FROM {schema}.log l WHERE l.iid = i.iid
                           ORDER BY l.seq LIMIT 2) AS f WHERE f.event = started);
    END IF;
    RETURN QUERY SELECT * FROM {schema}.instances i
        WHERE i.iid = ANY(picked) AND i.lease_owner = owner AND i.lease_expires = expires
        ORDER BY array_position(picked, i.iid);
END
$$;

-- Each log row keeps the version of the code that wrote it (an attempt's start).
CREATE OR REPLACE FUNCTION {schema}.apply_changes(changes jsonb) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    c jsonb;
    g jsonb;
    u jsonb;
    i bigint;
    r record;
    last_seq bigint;
    outcomes text[] := '{{}}';
BEGIN
    FOR c IN SELECT value FROM jsonb_array_elements(changes) LOOP
        i := (c->>'i')::bigint;
        SELECT status, lease_owner, lease_epoch, lifetime, signal, log_floor INTO r
            FROM {schema}.instances WHERE iid = i FOR UPDATE;
        IF NOT FOUND THEN
            outcomes := outcomes || 'f'::text;
            CONTINUE;
        END IF;
        IF c ? 'f' AND (r.lease_owner IS DISTINCT FROM c->'f'->>0
                        OR r.lease_epoch <> (c->'f'->>1)::bigint) THEN
            outcomes := outcomes || 'x'::text;
            CONTINUE;
        END IF;
        g := c->'g';
        IF g IS NOT NULL AND ((g ? 's' AND r.status <> g->>'s')
                              OR (g ? 'o' AND r.lease_owner IS DISTINCT FROM g->>'o')
                              OR (g ? 'l' AND r.lifetime <> (g->>'l')::integer)
                              OR (g ? 'n' AND r.signal <> (g->>'n')::bigint)) THEN
            outcomes := outcomes || 'f'::text;
            CONTINUE;
        END IF;
        IF c ? 'wa' OR c ? 'wr' THEN
            -- The numbers of wiped rows are not given out again (a reader may have seen them).
            UPDATE {schema}.instances SET log_floor = GREATEST(log_floor, COALESCE(
                (SELECT MAX(seq) FROM {schema}.log WHERE iid = i), 0)) WHERE iid = i
                RETURNING log_floor INTO r.log_floor;
        END IF;
        IF c ? 'wa' THEN
            DELETE FROM {schema}.log WHERE iid = i;
            DELETE FROM {schema}.steps WHERE iid = i;
            DELETE FROM {schema}.timers WHERE iid = i;
            DELETE FROM {schema}.inbox WHERE iid = i;
        ELSIF c ? 'wr' THEN
            DELETE FROM {schema}.log WHERE iid = i
                AND group_key IN (SELECT jsonb_array_elements_text(c->'wk'));
            DELETE FROM {schema}.steps WHERE iid = i
                AND cache_key IN (SELECT jsonb_array_elements_text(c->'wk'));
            DELETE FROM {schema}.timers WHERE iid = i
                AND cache_key IN (SELECT jsonb_array_elements_text(c->'wk'));
            IF (c->>'wr')::boolean THEN
                DELETE FROM {schema}.log WHERE iid = i AND group_key IS NULL
                    AND event NOT IN (SELECT (jsonb_array_elements_text(c->'keep'))::integer);
            END IF;
        END IF;
        IF c ? 'l' THEN
            -- Under the row lock: no other transaction numbers this instance's rows meanwhile.
            last_seq := GREATEST(r.log_floor, COALESCE(
                (SELECT MAX(seq) FROM {schema}.log WHERE iid = i), 0));
            INSERT INTO {schema}.log (iid, seq, ts, event, group_key, target, metadata, traceback,
                                      version)
            SELECT i, last_seq + x.n, (x.e->>0)::float8, (x.e->>1)::integer, x.e->>2, x.e->>3,
                   x.e->>4, x.e->>5, x.e->>6
            FROM jsonb_array_elements(c->'l') WITH ORDINALITY AS x(e, n);
        END IF;
        IF c ? 's' THEN
            INSERT INTO {schema}.steps AS s (iid, cache_key, kind, target, state, value, error,
                                             config, attempts, attempt_open)
            SELECT i, e->>0, e->>1, e->>2, e->>3, e->>4, e->>5, e->>6, (e->>7)::integer,
                   (e->>8)::smallint
            FROM jsonb_array_elements(c->'s') AS e
            ON CONFLICT (iid, cache_key) DO UPDATE SET
                state = COALESCE(excluded.state, s.state),
                value = COALESCE(excluded.value, s.value),
                error = COALESCE(excluded.error, s.error),
                config = COALESCE(excluded.config, s.config),
                attempts = COALESCE(excluded.attempts, s.attempts),
                attempt_open = COALESCE(excluded.attempt_open, s.attempt_open);
        END IF;
        IF c ? 'sh' THEN
            UPDATE {schema}.timers SET due_ms = due_ms + (c->>'sh')::float8 WHERE iid = i;
        END IF;
        IF c ? 'ts' THEN
            INSERT INTO {schema}.timers AS t (iid, cache_key, kind, due_ms)
            SELECT i, e->>0, e->>1, (e->>2)::float8 FROM jsonb_array_elements(c->'ts') AS e
            ON CONFLICT (iid, cache_key, kind) DO UPDATE SET due_ms = excluded.due_ms;
        END IF;
        IF c ? 'tc' THEN
            DELETE FROM {schema}.timers AS t USING jsonb_array_elements(c->'tc') AS e
            WHERE t.iid = i AND t.cache_key = e->>0 AND t.kind = e->>1;
        END IF;
        IF c ? 'c' THEN
            UPDATE {schema}.inbox AS b SET consumed_by = e->>1
            FROM jsonb_array_elements(c->'c') AS e
            WHERE b.seq = (e->>0)::bigint AND b.iid = i;
        END IF;
        u := c->'u';
        IF u IS NOT NULL OR c ? 'b' THEN
            UPDATE {schema}.instances SET
                status = CASE WHEN u ? 'status' THEN u->>'status' ELSE status END,
                output = CASE WHEN u ? 'output_json' THEN u->>'output_json' ELSE output END,
                error = CASE WHEN u ? 'error_json' THEN u->>'error_json' ELSE error END,
                runnable_at = CASE WHEN u ? 'runnable_at' THEN (u->>'runnable_at')::float8
                              ELSE runnable_at END,
                lease_owner = CASE WHEN u ? 'lease_owner' THEN u->>'lease_owner'
                              ELSE lease_owner END,
                lease_expires = CASE WHEN u ? 'lease_expires' THEN (u->>'lease_expires')::float8
                                ELSE lease_expires END,
                paused_at = CASE WHEN u ? 'paused_at' THEN (u->>'paused_at')::float8
                            ELSE paused_at END,
                version_id = CASE WHEN u ? 'version_id' THEN u->>'version_id' ELSE version_id END,
                control = CASE WHEN u ? 'control' THEN u->>'control' ELSE control END,
                lifetime = CASE WHEN u ? 'lifetime' THEN (u->>'lifetime')::integer
                           ELSE lifetime END,
                signal = signal + CASE WHEN c ? 'b' THEN 1 ELSE 0 END
            WHERE iid = i;
        END IF;
        outcomes := outcomes || 't'::text;
    END LOOP;
    RETURN outcomes;
END
$$;
""".replace("{finished}", FINISHED_SQL)
