"""State store on PostgreSQL (psycopg 3, extra `postgres`): for teams whose CI jobs and on-call
laptops share one state. Same semantics as SQLite; psycopg is imported only when used.

Commits and lease changes for one rollout are serialised with a transaction-scoped advisory lock
keyed by the rollout's name, so the check (revision, lease holder) and the write are atomic.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

from rollout.errors import LeaseHeld, StaleState, StateError
from rollout.records import Event, Holder, Run
from rollout.redact import redact_text
from rollout.state import Claim, plans
from rollout.state import _common as common

SCHEMA_VERSION = 2

# Migration N takes the schema from version N-1 to N. Append, never edit a released one.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS rollout_runs (
            name text NOT NULL, attempt integer NOT NULL, revision integer NOT NULL,
            phase text NOT NULL, plan_hash text NOT NULL, updated_at timestamptz NOT NULL,
            body jsonb NOT NULL, PRIMARY KEY (name, attempt))""",
        """CREATE TABLE IF NOT EXISTS rollout_events (
            name text NOT NULL, attempt integer NOT NULL, seq integer NOT NULL,
            at timestamptz NOT NULL, kind text NOT NULL, actor text, message text NOT NULL,
            data jsonb NOT NULL, PRIMARY KEY (name, seq))""",
        """CREATE TABLE IF NOT EXISTS rollout_leases (
            name text PRIMARY KEY, "user" text NOT NULL, host text NOT NULL,
            pid integer NOT NULL, since timestamptz NOT NULL, expires timestamptz NOT NULL,
            token text NOT NULL)""",
    ],
    # Plan snapshots stored once (rollout.state.plans): a commit writes the run's mutable part.
    # Rows written before keep their plan in the body (plan_key NULL) until their next commit.
    2: [
        """CREATE TABLE IF NOT EXISTS rollout_plans (
            plan_key text PRIMARY KEY, plan_hash text NOT NULL, body text NOT NULL)""",
        "ALTER TABLE rollout_runs ADD COLUMN IF NOT EXISTS plan_key text"
        " REFERENCES rollout_plans (plan_key)",
    ],
}
_RUNS = "rollout_runs r LEFT JOIN rollout_plans p ON p.plan_key = r.plan_key"
_MIGRATION_LOCK = 0x726F6C6C6F7574  # "rollout": one migrator at a time across clients


def _lock_key(namespace: str, name: str) -> int:
    digest = hashlib.sha256(f"{namespace}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)  # advisory locks take a bigint


class PostgresStore:
    def __init__(
        self,
        url: str,
        *,
        now: common.Now | None = None,
        hostname: str | None = None,
        connect_timeout: int = 10,
    ) -> None:
        self.url = url
        self._now = now or common.utcnow
        self._now_injected = now is not None
        self._hostname = hostname or common.hostname()
        self._connect_timeout = connect_timeout
        self._ready = False
        self._claims_ready = False
        self._kept: threading.local | None = None
        self._plans = plans.PlanKeys()

    def _clock(self, cur: Any) -> Any:
        """Lease times come from the database server's clock, not this host's: a host whose clock
        runs ahead must not judge a live holder's lease expired (tests inject `now`)."""
        if self._now_injected:
            return self._now()
        cur.execute("SELECT now()")
        return common.as_utc(cur.fetchone()[0])

    def _fail(self, exc: Exception) -> StateError:
        # The URL may carry a password, and so may libpq's messages: redact both.
        return StateError(
            f"state store {redact_text(self.url)}: {redact_text(str(exc).strip())}. Check that "
            "the server is reachable and the credentials (PGPASSWORD or ~/.pgpass) are right"
        )

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """One transaction on a fresh connection; psycopg errors become StateError.

        autocommit=True so that each `conn.transaction()` block is a real top-level transaction.
        """
        import psycopg

        kept = self._kept
        if kept is not None:
            yield from self._kept_tx(kept)
            return
        try:
            with psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=max(1, int(common.patience(self._connect_timeout))),
            ) as conn:
                if not self._ready:
                    self._migrate(conn)
                    self._ready = True
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
        except psycopg.Error as exc:
            raise self._fail(exc) from exc

    @contextmanager
    def _read(self) -> Iterator[Any]:
        """One SELECT: on a kept connection in autocommit it is its own transaction, without
        the BEGIN and COMMIT round trips (the controller reads a run several times a look)."""
        import psycopg

        kept = self._kept
        conn = getattr(kept, "conn", None) if kept is not None else None
        if kept is None or not self._ready or conn is None or conn.closed:
            with self._tx() as cur:
                yield cur
            return
        try:
            with conn.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            kept.conn = None
            with contextlib.suppress(Exception):
                conn.close()
            raise self._fail(exc) from exc

    def keep_connections(self) -> None:
        """One connection per thread, kept between transactions (`rollout controller`: a
        connection per transaction costs more than the rest of a look). A connection that
        fails is dropped, and the next transaction opens a new one."""
        if self._kept is None:
            self._kept = threading.local()

    def _kept_tx(self, kept: threading.local) -> Iterator[Any]:
        import psycopg

        try:
            conn = getattr(kept, "conn", None)
            if conn is None or conn.closed:
                conn = psycopg.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=max(1, int(common.patience(self._connect_timeout))),
                )
                kept.conn = conn
            if not self._ready:
                self._migrate(conn)
                self._ready = True
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            conn = getattr(kept, "conn", None)
            kept.conn = None
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            raise self._fail(exc) from exc

    def _migrate(self, conn: Any) -> None:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute("CREATE TABLE IF NOT EXISTS rollout_schema (version integer NOT NULL)")
            cur.execute("SELECT version FROM rollout_schema")
            row = cur.fetchone()
            version = row[0] if row else 0
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"the state database has schema version {version}, newer than this rollout "
                    f"supports ({SCHEMA_VERSION}); upgrade rollout"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target]:
                    cur.execute(statement)
            if row is None:
                cur.execute("INSERT INTO rollout_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
            elif version < SCHEMA_VERSION:
                cur.execute("UPDATE rollout_schema SET version = %s", (SCHEMA_VERSION,))

    # -- runs and events --------------------------------------------------------------------

    def load(self, name: str) -> Run | None:
        with self._read() as cur:
            cur.execute(
                f"SELECT r.body, r.plan_key, p.body FROM {_RUNS} WHERE r.name = %s"
                " ORDER BY r.attempt DESC LIMIT 1",
                (name,),
            )
            row = cur.fetchone()
        return self._run(row) if row else None

    def _run(self, row: tuple[Any, str | None, str | None]) -> Run:
        return plans.run_of(*row, self._plans, lambda: f"state store {redact_text(self.url)}")

    def commit(self, run: Run, events: Sequence[Event], *, expected_revision: int) -> Run:
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key("run", run.name),))
            cur.execute(
                "SELECT attempt, revision FROM rollout_runs WHERE name = %s "
                "ORDER BY attempt DESC LIMIT 1",
                (run.name,),
            )
            common.check_revision(run, cur.fetchone(), expected_revision)
            new = run.model_copy(update={"revision": expected_revision + 1})
            key = self._plans.key_of(new.plan)
            stored = key is None
            if key is None:
                key, text = plans.snapshot(new.plan)
                cur.execute(
                    "INSERT INTO rollout_plans (plan_key, plan_hash, body) VALUES (%s, %s, %s)"
                    " ON CONFLICT (plan_key) DO NOTHING",
                    (key, new.plan.plan_hash, text),
                )
            cur.execute(
                "INSERT INTO rollout_runs"
                " (name, attempt, revision, phase, plan_hash, updated_at, body, plan_key)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s)"
                " ON CONFLICT (name, attempt) DO UPDATE"
                " SET revision = EXCLUDED.revision, phase = EXCLUDED.phase,"
                " plan_hash = EXCLUDED.plan_hash, updated_at = EXCLUDED.updated_at,"
                " body = EXCLUDED.body, plan_key = EXCLUDED.plan_key"
                " WHERE rollout_runs.revision = %s",
                (
                    new.name,
                    new.attempt,
                    new.revision,
                    str(new.phase),
                    new.plan_hash,
                    new.updated_at,
                    plans.mutable(new),
                    key,
                    expected_revision,
                ),
            )
            if cur.rowcount != 1:  # cannot happen under the lock; never drop a write silently
                raise StaleState(
                    f"{run.name}: revision {expected_revision} moved on; reload and retry"
                )
            cur.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM rollout_events WHERE name = %s", (run.name,)
            )
            seq = cur.fetchone()[0]
            cur.executemany(
                "INSERT INTO rollout_events (name, attempt, seq, at, kind, actor, message, data)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
                [
                    (
                        run.name,
                        run.attempt,
                        seq + i,
                        e.at,
                        e.kind,
                        e.actor,
                        e.message,
                        json.dumps(e.model_dump(mode="json")["data"]),
                    )
                    for i, e in enumerate(events, start=1)
                ],
            )
        if stored:  # only once the row is committed: a rolled-back plan row is not there
            self._plans.remember(new.plan, key)
        return new

    def history(self, name: str, *, limit: int = 50, all_attempts: bool = False) -> list[Event]:
        where = "name = %s"
        args: list[Any] = [name]
        if not all_attempts:
            where += " AND attempt = (SELECT MAX(attempt) FROM rollout_runs WHERE name = %s)"
            args.append(name)
        sql = (
            "SELECT attempt, seq, at, kind, actor, message, data FROM rollout_events "
            f"WHERE {where} ORDER BY seq DESC"
        )
        if limit:
            sql += " LIMIT %s"
            args.append(int(limit))
        with self._tx() as cur:
            cur.execute(sql, args)
            rows = cur.fetchall()
        return [
            Event(attempt=a, seq=s, at=common.as_utc(at), kind=k, actor=actor, message=m, data=d)
            for a, s, at, k, actor, m, d in reversed(rows)
        ]

    def runs(self) -> list[Run]:
        with self._tx() as cur:
            cur.execute(
                f"SELECT DISTINCT ON (r.name) r.body, r.plan_key, p.body FROM {_RUNS}"
                " ORDER BY r.name, r.attempt DESC"
            )
            rows = cur.fetchall()
        return [self._run(row) for row in rows]

    # -- leases -----------------------------------------------------------------------------

    def lease(
        self, name: str, holder: Holder, *, ttl: float = common.DEFAULT_TTL
    ) -> AbstractContextManager[common.LeaseHandle]:
        def acquire() -> common.Acquired:
            token = uuid.uuid4().hex
            with self._tx() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key("lease", name),))
                now = self._clock(cur)
                current = _holder(cur, name)
                if current is not None and not common.may_take_over(
                    current, holder, now, self._hostname
                ):
                    raise LeaseHeld(common.held_message(name, current))
                cur.execute(
                    'INSERT INTO rollout_leases (name, "user", host, pid, since, expires, token)'
                    " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET"
                    ' "user" = EXCLUDED."user", host = EXCLUDED.host, pid = EXCLUDED.pid,'
                    " since = EXCLUDED.since, expires = EXCLUDED.expires, token = EXCLUDED.token",
                    (
                        name,
                        holder.user,
                        holder.host,
                        holder.pid,
                        now,
                        common.expiry(now, ttl),
                        token,
                    ),
                )
            taken = (
                current if current is not None and not common.same_holder(current, holder) else None
            )
            return token, taken

        def renew(token: str) -> None:
            with self._tx() as cur:
                cur.execute(
                    "UPDATE rollout_leases SET expires = %s WHERE name = %s AND token = %s",
                    (common.expiry(self._clock(cur), ttl), name, token),
                )
                if cur.rowcount == 0:
                    current = _holder(cur, name)
                    who = f"now held by {current}" if current else "no longer held"
                    raise LeaseHeld(f"lost the lease on {name} ({who}); stopping without changes")

        def release(token: str) -> None:
            with self._tx() as cur:
                cur.execute(
                    "DELETE FROM rollout_leases WHERE name = %s AND token = %s", (name, token)
                )

        return common.hold(acquire, renew, release)

    def holder(self, name: str) -> Holder | None:
        """The current lease holder, if any (for `status`)."""
        with self._tx() as cur:
            return _holder(cur, name)

    # -- claims (rollout controller; rollout.state.Claims) ------------------------------------
    # The schedule lives in its own table, created on first use rather than by a migration: a
    # schema version bump would make every older `rollout` refuse the database, and the runs,
    # events and leases it leaves untouched are all they read.

    def _claims_table(self, cur: Any) -> None:
        if self._claims_ready:
            return
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        for statement in CLAIMS_DDL:
            cur.execute(statement)
        self._claims_ready = True

    def sync(self, now: datetime) -> None:
        with self._tx() as cur:
            self._claims_table(cur)
            cur.execute(
                "INSERT INTO rollout_due AS d (name, due_at, attempt, revision)"
                " SELECT r.name, %s, r.attempt, r.revision FROM (SELECT DISTINCT ON (name)"
                " name, attempt, revision, phase FROM rollout_runs ORDER BY name, attempt DESC) r"
                " WHERE r.phase NOT IN ('completed', 'rolled_back', 'aborted')"
                " ON CONFLICT (name) DO UPDATE SET due_at = LEAST(d.due_at, EXCLUDED.due_at),"
                " attempt = EXCLUDED.attempt, revision = EXCLUDED.revision"
                " WHERE (d.attempt, d.revision) <> (EXCLUDED.attempt, EXCLUDED.revision)",
                (now,),
            )

    def claim_due(self, owner: str, now: datetime, *, limit: int, ttl: float) -> list[Claim]:
        with self._tx() as cur:
            self._claims_table(cur)
            cur.execute(
                "SELECT name, due_at, owner FROM rollout_due WHERE due_at <= %s"
                " AND (claimed_until IS NULL OR claimed_until <= %s)"
                " ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED",
                (now, now, int(limit)),
            )
            rows = cur.fetchall()
            if rows:
                cur.execute(
                    "UPDATE rollout_due SET owner = %s, claimed_until = %s WHERE name = ANY(%s)",
                    (owner, common.expiry(now, ttl), [r[0] for r in rows]),
                )
        return [
            Claim(n, common.as_utc(due), prev if prev not in (None, owner) else None)
            for n, due, prev in rows
        ]

    def reschedule(
        self, name: str, owner: str, due: datetime | None, seen: tuple[int, int]
    ) -> None:
        with self._tx() as cur:
            self._claims_table(cur)
            if due is None:
                cur.execute("DELETE FROM rollout_due WHERE name = %s AND owner = %s", (name, owner))
                return
            cur.execute(
                "UPDATE rollout_due SET due_at = %s, owner = NULL, claimed_until = NULL,"
                " attempt = %s, revision = %s WHERE name = %s AND owner = %s",
                (due, seen[0], seen[1], name, owner),
            )


CLAIMS_DDL = [
    """CREATE TABLE IF NOT EXISTS rollout_due (
        name text PRIMARY KEY, due_at timestamptz NOT NULL, owner text,
        claimed_until timestamptz, attempt integer NOT NULL, revision integer NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS rollout_due_at ON rollout_due (due_at)",
]


def _holder(cur: Any, name: str) -> Holder | None:
    cur.execute(
        'SELECT "user", host, pid, since, expires FROM rollout_leases WHERE name = %s', (name,)
    )
    row = cur.fetchone()
    if row is None:
        return None
    user, host, pid, since, expires = row
    return Holder(
        user=user, host=host, pid=pid, since=common.as_utc(since), expires=common.as_utc(expires)
    )


def open_url(url: str) -> PostgresStore:
    """`postgresql://user@host:port/db` (libpq syntax; the password belongs in PGPASSWORD)."""
    return PostgresStore(url.replace("postgresql+psycopg://", "postgresql://", 1))
