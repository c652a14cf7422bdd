"""The default state store: one SQLite file (WAL mode), safe for several processes on one host.

A connection is opened per operation, so a long-running `apply` holds no file handle between
ticks and a second process (`abort`, `status`) never waits on more than one short transaction.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from datetime import datetime
from pathlib import Path

from rollout import faults, retry
from rollout.clock import Clock, SystemClock
from rollout.errors import LeaseHeld, StateError
from rollout.records import Event, Holder, Run
from rollout.state import Claim, plans
from rollout.state import _common as common

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 30_000

# Migration N takes a database at user_version N-1 to N. Append, never edit a released one.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS runs (
            name TEXT NOT NULL, attempt INTEGER NOT NULL, revision INTEGER NOT NULL,
            phase TEXT NOT NULL, plan_hash TEXT NOT NULL, updated_at TEXT NOT NULL,
            body TEXT NOT NULL, PRIMARY KEY (name, attempt))""",
        """CREATE TABLE IF NOT EXISTS events (
            name TEXT NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,
            kind TEXT NOT NULL, actor TEXT, message TEXT NOT NULL, data TEXT NOT NULL,
            PRIMARY KEY (name, seq))""",
        """CREATE TABLE IF NOT EXISTS leases (
            name TEXT PRIMARY KEY, user TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
            since TEXT NOT NULL, expires TEXT NOT NULL, token TEXT NOT NULL)""",
        # The event log is the audit trail: the database itself refuses to rewrite it.
        """CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
        """CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
    ],
    # Plan snapshots stored once (rollout.state.plans): a commit writes the run's mutable part.
    # Rows written before keep their plan in the body (plan_key NULL) until their next commit.
    2: [
        """CREATE TABLE IF NOT EXISTS plans (
            plan_key TEXT PRIMARY KEY, plan_hash TEXT NOT NULL, body TEXT NOT NULL)""",
        "ALTER TABLE runs ADD COLUMN plan_key TEXT REFERENCES plans (plan_key)",
    ],
}
_RUNS = "runs r LEFT JOIN plans p ON p.plan_key = r.plan_key"


def _iso(dt: datetime) -> str:
    return common.as_utc(dt).isoformat()


class SQLiteStore:
    def __init__(
        self,
        path: str | Path,
        *,
        now: common.Now | None = None,
        hostname: str | None = None,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        clock: Clock | None = None,
    ) -> None:
        self.path = Path(path)
        self._clock = clock or SystemClock()  # waits out SQLITE_PROTOCOL (_begin)
        self._now = now or common.utcnow
        self._hostname = hostname or common.hostname()
        self._busy_ms = busy_timeout_ms
        self._ready = False  # schema checked by this instance
        self._wal = False
        self._claims_ready = False
        self._plans = plans.PlanKeys()

    # -- plumbing ---------------------------------------------------------------------------

    def _fail(self, exc: Exception) -> StateError:
        return StateError(
            f"state store {self.path}: {exc}. Check that the directory is writable and the file "
            "is a rollout state database (choose another with --state URL or ROLLOUT_STATE)"
        )

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes the write
        # lock up front instead of failing to upgrade a read lock under contention.
        busy_ms = common.patience(self._busy_ms / 1000) * 1000
        db = sqlite3.connect(self.path, timeout=busy_ms / 1000, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
        try:
            if not self._ready:
                self._migrate(db)
                self._ready = True
            if not self._wal:
                self._try_wal(db)
        except BaseException:
            db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            db.execute("BEGIN IMMEDIATE")  # waits (busy_timeout) for a concurrent migrator
            try:
                migrate(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _try_wal(self, db: sqlite3.Connection) -> None:
        # Switching to WAL needs an exclusive lock and does not wait on busy_timeout, so when
        # another process holds the file we go on in rollback-journal mode (just as safe, less
        # concurrent) and try again on the next connection. The mode is persistent once set.
        try:
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError:
            return
        self._wal = mode == "wal"

    def _begin(self, begin: str, probe: bool = False) -> sqlite3.Connection:
        """A fresh connection inside a transaction. SQLITE_PROTOCOL ("locking protocol") is
        SQLite's transient answer when the WAL index lock cannot be taken on the way in, e.g.
        while another process stopped (SIGSTOP, a frozen VM) holds it: nothing has been done
        yet, so it is retried like a busy lock, within the same patience."""
        waited, attempt = 0.0, 0
        patience = common.patience(self._busy_ms / 1000)
        while True:
            db = self._connect()
            try:
                db.execute(begin)
                if probe:
                    db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return db
            except sqlite3.OperationalError as exc:
                db.close()
                if "locking protocol" not in str(exc) or waited >= patience:
                    raise
            except BaseException:
                db.close()
                raise
            attempt += 1
            pause = retry.backoff(attempt, base=0.005, cap=0.25)
            self._clock.sleep(pause)
            waited += pause

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on a fresh connection; sqlite errors become StateError."""
        try:
            with closing(self._begin("BEGIN IMMEDIATE")) as db:
                try:
                    yield db
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            raise self._fail(exc) from exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            # one snapshot for every SELECT in the block, taken now (the probe reads)
            with closing(self._begin("BEGIN", probe=True)) as db:
                try:
                    yield db
                finally:
                    db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            raise self._fail(exc) from exc

    # -- runs and events --------------------------------------------------------------------

    def load(self, name: str) -> Run | None:
        with self._read() as db:
            row = db.execute(
                f"SELECT r.body, r.plan_key, p.body FROM {_RUNS} WHERE r.name = ?"
                " ORDER BY r.attempt DESC LIMIT 1",
                (name,),
            ).fetchone()
        return self._run(row) if row else None

    def _run(self, row: tuple[str, str | None, str | None]) -> Run:
        return plans.run_of(*row, self._plans, lambda: f"state store {self.path}")

    def commit(self, run: Run, events: Sequence[Event], *, expected_revision: int) -> Run:
        with self._tx() as db:
            cur = db.execute(
                "SELECT attempt, revision FROM runs WHERE name = ? ORDER BY attempt DESC LIMIT 1",
                (run.name,),
            ).fetchone()
            common.check_revision(run, cur, expected_revision)
            new = run.model_copy(update={"revision": expected_revision + 1})
            key = self._plans.key_of(new.plan)
            stored = key is None
            if key is None:
                key, text = plans.snapshot(new.plan)
                db.execute(
                    "INSERT OR IGNORE INTO plans (plan_key, plan_hash, body) VALUES (?, ?, ?)",
                    (key, new.plan.plan_hash, text),
                )
            db.execute(
                "INSERT OR REPLACE INTO runs (name, attempt, revision, phase, plan_hash, "
                "updated_at, body, plan_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new.name,
                    new.attempt,
                    new.revision,
                    str(new.phase),
                    new.plan_hash,
                    _iso(new.updated_at),
                    plans.mutable(new),
                    key,
                ),
            )
            faults.point("sqlite_mid_commit")  # the run row written, its events not yet
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE name = ?", (run.name,)
            ).fetchone()[0]
            db.executemany(
                "INSERT INTO events (name, attempt, seq, at, kind, actor, message, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run.name,
                        run.attempt,
                        seq + i,
                        _iso(e.at),
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
        where = "name = ?"
        if not all_attempts:
            where += " AND attempt = (SELECT MAX(attempt) FROM runs WHERE name = ?)"
        args: tuple[object, ...] = (name,) if all_attempts else (name, name)
        sql = (
            f"SELECT attempt, seq, at, kind, actor, message, data FROM events WHERE {where} "
            "ORDER BY seq DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._read() as db:
            rows = db.execute(sql, args).fetchall()
        return [
            Event(
                attempt=a,
                seq=s,
                at=datetime.fromisoformat(at),
                kind=k,
                actor=actor,
                message=m,
                data=json.loads(d),
            )
            for a, s, at, k, actor, m, d in reversed(rows)
        ]

    def runs(self) -> list[Run]:
        with self._read() as db:
            rows = db.execute(
                f"SELECT r.body, r.plan_key, p.body FROM {_RUNS} WHERE r.attempt = "
                "(SELECT MAX(attempt) FROM runs WHERE name = r.name) ORDER BY r.name"
            ).fetchall()
        return [self._run(row) for row in rows]

    # -- leases -----------------------------------------------------------------------------

    def lease(
        self, name: str, holder: Holder, *, ttl: float = common.DEFAULT_TTL
    ) -> AbstractContextManager[common.LeaseHandle]:
        def acquire() -> common.Acquired:
            token = uuid.uuid4().hex
            with self._tx() as db:
                now = self._now()
                cur = _holder(db, name)
                if cur is not None and not common.may_take_over(cur, holder, now, self._hostname):
                    raise LeaseHeld(common.held_message(name, cur))
                db.execute(
                    "INSERT OR REPLACE INTO leases (name, user, host, pid, since, expires, token) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        holder.user,
                        holder.host,
                        holder.pid,
                        _iso(now),
                        _iso(common.expiry(now, ttl)),
                        token,
                    ),
                )
            return token, (cur if cur is not None and not common.same_holder(cur, holder) else None)

        def renew(token: str) -> None:
            with self._tx() as db:
                n = db.execute(
                    "UPDATE leases SET expires = ? WHERE name = ? AND token = ?",
                    (_iso(common.expiry(self._now(), ttl)), name, token),
                ).rowcount
                if n == 0:
                    cur = _holder(db, name)
                    who = f"now held by {cur}" if cur else "no longer held"
                    raise LeaseHeld(f"lost the lease on {name} ({who}); stopping without changes")

        def release(token: str) -> None:
            with self._tx() as db:
                db.execute("DELETE FROM leases WHERE name = ? AND token = ?", (name, token))

        return common.hold(acquire, renew, release)

    def holder(self, name: str) -> Holder | None:
        """The current lease holder, if any (for `status`)."""
        with self._read() as db:
            return _holder(db, name)

    # -- claims (rollout controller; rollout.state.Claims) ------------------------------------
    # One replica on SQLite (one host); its own table, created on first use so the schema
    # version older `rollout` processes check stays the same. Times as fixed-width UTC text.

    def _claims_table(self, db: sqlite3.Connection) -> None:
        if not self._claims_ready:
            db.execute(
                "CREATE TABLE IF NOT EXISTS due (name TEXT PRIMARY KEY, due_at TEXT NOT NULL,"
                " owner TEXT, claimed_until TEXT, attempt INTEGER NOT NULL,"
                " revision INTEGER NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS due_at ON due (due_at)")
            self._claims_ready = True

    def sync(self, now: datetime) -> None:
        with self._tx() as db:
            self._claims_table(db)
            db.execute(
                "INSERT INTO due (name, due_at, attempt, revision)"
                " SELECT name, ?, attempt, revision FROM runs r"
                " WHERE attempt = (SELECT MAX(attempt) FROM runs WHERE name = r.name)"
                " AND phase NOT IN ('completed', 'rolled_back', 'aborted')"
                " ON CONFLICT (name) DO UPDATE SET due_at = min(due.due_at, excluded.due_at),"
                " attempt = excluded.attempt, revision = excluded.revision"
                " WHERE (due.attempt, due.revision) <> (excluded.attempt, excluded.revision)",
                (_key(now),),
            )

    def claim_due(self, owner: str, now: datetime, *, limit: int, ttl: float) -> list[Claim]:
        with self._tx() as db:
            self._claims_table(db)
            rows = db.execute(
                "SELECT name, due_at, owner FROM due WHERE due_at <= ?"
                " AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY due_at LIMIT ?",
                (_key(now), _key(now), int(limit)),
            ).fetchall()
            db.executemany(
                "UPDATE due SET owner = ?, claimed_until = ? WHERE name = ?",
                [(owner, _key(common.expiry(now, ttl)), r[0]) for r in rows],
            )
        return [
            Claim(n, datetime.fromisoformat(due), prev if prev not in (None, owner) else None)
            for n, due, prev in rows
        ]

    def reschedule(
        self, name: str, owner: str, due: datetime | None, seen: tuple[int, int]
    ) -> None:
        with self._tx() as db:
            self._claims_table(db)
            if due is None:
                db.execute("DELETE FROM due WHERE name = ? AND owner = ?", (name, owner))
                return
            db.execute(
                "UPDATE due SET due_at = ?, owner = NULL, claimed_until = NULL, attempt = ?,"
                " revision = ? WHERE name = ? AND owner = ?",
                (_key(due), seen[0], seen[1], name, owner),
            )


def _key(dt: datetime) -> str:
    """Fixed-width UTC text, so comparing strings compares times."""
    return common.as_utc(dt).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _holder(db: sqlite3.Connection, name: str) -> Holder | None:
    row = db.execute(
        "SELECT user, host, pid, since, expires FROM leases WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        return None
    user, host, pid, since, expires = row
    return Holder(
        user=user,
        host=host,
        pid=pid,
        since=datetime.fromisoformat(since),
        expires=datetime.fromisoformat(expires),
    )


def migrate(db: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION inside the caller's transaction; returns the old
    version."""
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StateError(
            f"the state database has schema version {version}, newer than this rollout supports "
            f"({SCHEMA_VERSION}); upgrade rollout"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[target]:  # not executescript(): it would COMMIT early
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {target}")
    return version


def open_url(url: str) -> SQLiteStore:
    """`sqlite:///rel/path.db` (relative to the working directory) or `sqlite:////abs/path.db`."""
    from rollout.state import sqlite_path

    if "://" in url and not url.startswith("sqlite:///"):
        raise StateError(f"bad SQLite URL {url!r}: use sqlite:///relative.db or sqlite:////abs.db")
    path = sqlite_path(url)
    if not str(path) or str(path) == ".":
        raise StateError(f"bad SQLite URL {url!r}: no file path")
    return SQLiteStore(path)
