"""Database helpers shared by every subsystem."""

from __future__ import annotations

import functools
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
from django.db import DEFAULT_DB_ALIAS, Error, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.adapt import Loader, PyFormat, Transformer
from psycopg.pq import ExecStatus, Format


def quote_name(name: str) -> str:
    """A table or column name from our registry/models as SQL; ``schema.table`` is two
    identifiers (the benchmarks' tables live in schema ``bench``). Never for request input."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def conninfo(**overrides: Any) -> str:
    """The Django database as a libpq connection string, for connections of our own (LISTEN,
    COPY in a worker thread, another role). Under tests it names the test database.

    ``overrides`` replace parameters; a ``None`` drops one (e.g. ``password=None`` for a role
    that logs in without a password).
    """
    db = connection.settings_dict
    params: dict[str, Any] = {
        "host": db.get("HOST"),
        "port": str(db["PORT"]) if db.get("PORT") else None,
        "dbname": db["NAME"],
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
    }
    params.update(overrides)
    return psycopg.conninfo.make_conninfo(
        **{key: value for key, value in params.items() if value not in (None, "")}
    )


def database_url(scheme: str = "postgis", **query: str) -> str:
    """The Django database as a URL for subprocesses (DATABASE_URL of a server we start,
    tipg, …); ``query`` adds parameters such as ``options="-c search_path=bench,public"``."""
    db = connection.settings_dict
    host = quote(str(db.get("HOST") or "localhost"), safe="")  # a socket dir is percent-encoded
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    port = db.get("PORT") or 5432
    url = f"{scheme}://{quote(str(db['USER']), safe='')}:{password}@{host}:{port}/{db['NAME']}"
    return f"{url}?{urlencode(query, quote_via=quote)}" if query else url


def libpq_env() -> dict[str, str]:
    """The Django database as libpq environment variables, for our tools (pgbench, psql)."""
    db = connection.settings_dict
    env = {"PGDATABASE": db["NAME"], "PGUSER": str(db["USER"])}
    for key, name in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("PASSWORD", "PGPASSWORD")):
        if db.get(key):
            env[name] = str(db[key])
    return env


def fetchone_prepared(
    sql: str, params: list[Any], wrapper=None, *, binary: bool = False, raw_text: bool = False
) -> tuple[Any, ...] | None:
    """Run a hot read statement server-side bound and prepared: PostgreSQL plans it once per
    connection instead of on every request (our /items page statement: 1.4 ms → 0.64 ms; a
    z14 point tile 1.4 → 0.9 ms).

    Django's connections bind client-side (values inlined, so nothing can be prepared); this
    uses the same connection (``wrapper``: an open Django cursor, else a new one), transaction
    and error wrapping, and logs the query like Django does (query-count assertions still see
    it). Only for SQL whose every value is a ``%s`` parameter of a type PostgreSQL can infer.
    ``binary``: results in PostgreSQL's binary format (bytea as raw bytes instead of hex text).
    ``raw_text``: binary, and text as its UTF-8 bytes, for text that goes out as it came (an
    /items page: decoding and re-encoding its ~17 KB cost ~18 µs).
    """
    if wrapper is None:
        with connection.cursor() as wrapper:  # connects, health-checks, refuses broken atomics
            return fetchone_prepared(sql, params, wrapper, binary=binary, raw_text=raw_text)
    conn = wrapper.cursor.connection
    hot = _Hot.of(conn)
    start = time.monotonic()
    with wrapper.db.wrap_database_errors:
        if conn.autocommit:
            row = hot.fetchone(sql, params, binary or raw_text, raw_text)
        else:  # psycopg must open the transaction first (BEGIN at Django's isolation level)
            cursor, _tx = hot.mode(raw_text)
            cursor.execute(sql, params, prepare=True, binary=binary or raw_text)
            row = cursor.fetchone()
    if wrapper.db.queries_logged:
        wrapper.db.queries_log.append({"sql": sql, "time": f"{time.monotonic() - start:.3f}"})
    return row


class _RawTextLoader(Loader):
    format = Format.BINARY  # a text value's binary form is its bytes in the client encoding

    def load(self, data: Any) -> bytes:
        return bytes(data)


_PLACEHOLDER = re.compile(r"%(.)", re.S)


@functools.lru_cache(maxsize=1024)
def _numbered(sql: str) -> bytes:
    """``%s`` placeholders as ``$1, $2, …`` and ``%%`` as ``%``, like psycopg's own binding."""
    number = 0

    def sub(match: re.Match) -> str:
        nonlocal number
        if match.group(1) == "%":
            return "%"
        if match.group(1) != "s":
            raise psycopg.ProgrammingError(f"only %s placeholders are supported: {match[0]!r}")
        number += 1
        return f"${number}"

    return _PLACEHOLDER.sub(sub, sql).encode()


class _Hot:
    """fetchone_prepared's state on one psycopg connection, kept on the connection itself so
    that it goes with it (a dictionary keyed by connection would keep every replaced connection
    alive): a cursor and a Transformer per result mode (plain or raw text; making a cursor per
    statement cost ~40 µs of a ~130 µs round trip), and its named statements.

    Outside transactions a statement runs as one blocking libpq call (PQexecPrepared, which
    releases the GIL) instead of psycopg's cursor protocol: its prepared-statement bookkeeping
    and non-blocking read loop cost ~70 µs of a ~0.9 ms /items page (docs/decisions.md).
    The values are still adapted, and the row still loaded, by psycopg's adapters.
    """

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.modes: dict[bool, tuple[psycopg.Cursor, Transformer]] = {}  # by raw_text
        # (sql, parameter types) → statement name, least recently used first; at most
        # conn.prepared_max (psycopg's own bound: an /items page plan is ~140 KB per backend)
        self.names: OrderedDict[tuple[str, tuple[int, ...]], bytes] = OrderedDict()
        self.serial = 0

    @classmethod
    def of(cls, conn: psycopg.Connection) -> _Hot:
        hot = conn.__dict__.get("ioc_hot")
        if hot is None:
            hot = conn.__dict__["ioc_hot"] = cls(conn)
        return hot

    def mode(self, raw_text: bool) -> tuple[psycopg.Cursor, Transformer]:
        """The cursor (for reads in a transaction) and the Transformer (for the direct path)
        of a result mode; the Transformer adapts with the cursor's loaders."""
        mode = self.modes.get(raw_text)
        if mode is None or mode[0].closed:
            cursor = psycopg.Cursor(self.conn)
            if raw_text:
                cursor.adapters.register_loader("text", _RawTextLoader)
            mode = self.modes[raw_text] = (cursor, Transformer.from_context(cursor))
        return mode

    def fetchone(
        self, sql: str, params: list[Any], binary: bool, raw_text: bool
    ) -> tuple[Any, ...] | None:
        _cursor, tx = self.mode(raw_text)
        values = tx.dump_sequence(params, [PyFormat.AUTO] * len(params))
        key = (sql, tuple(tx.types))
        try:
            result = self._execute(key, values, tx.formats, binary)
        except psycopg.errors.InvalidSqlStatementName:
            # Someone deallocated our statements (DISCARD ALL, a pooler): prepare them again
            self.names.clear()
            result = self._execute(key, values, tx.formats, binary)
        if not result.ntuples:
            return None
        tx.set_pgresult(result)
        return tx.load_row(0, tuple)

    def _execute(self, key, values, formats, binary: bool) -> psycopg.pq.abc.PGresult:
        pgconn = self.conn.pgconn
        name = self.names.get(key)
        if name is None:
            self.serial += 1
            name = f"ioc_hot_{self.serial}".encode()
            self._check(pgconn.prepare(name, _numbered(key[0]), param_types=key[1]))
            self.names[key] = name
            limit = self.conn.prepared_max  # None: no limit, as for psycopg's own statements
            while limit is not None and len(self.names) > max(limit, 1):
                _old, evicted = self.names.popitem(last=False)
                self._check(pgconn.exec_(b"DEALLOCATE " + evicted))
        else:
            self.names.move_to_end(key)
        result = pgconn.exec_prepared(
            name, values, param_formats=formats, result_format=1 if binary else 0
        )
        return self._check(result)

    def _check(self, result: psycopg.pq.abc.PGresult) -> psycopg.pq.abc.PGresult:
        if result.status in (ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK):
            return result
        raise psycopg.errors.error_from_result(result, encoding=self.conn.info.encoding)


def read_optimistically[T](read: Callable[[], T]) -> T:
    """Run ``read()`` (statements that only read) on the request's connection without Django's
    health check first.

    With CONN_HEALTH_CHECKS, Django tries a reused connection with a round trip of its own
    (``SELECT 1``) before a request's first statement: ~0.3 ms in a busy server, a fifth of a
    small tile, a sixth of an /items page. The read goes first instead, and should the
    connection prove dead, it is replaced and the read runs again — what the check would have
    done. Inside a transaction Django's own rules apply (nothing to retry there).
    """
    db = connection
    optimistic = (
        db.connection is not None
        and db.health_check_enabled
        and not db.health_check_done
        and not db.in_atomic_block
    )
    if optimistic:
        db.health_check_done = True
    try:
        return read()
    except Error:
        if not optimistic or db.is_usable():
            raise
        db.close()
        return read()


class WarmConnections:
    """A worker process's database connections for the fast paths, lent most recently used
    first.

    Django gives every thread its own connection, and granian hands requests to its blocking
    threads in turn, so with four threads even a lone client's requests visit four PostgreSQL
    backends, each gone cold (CPU caches, plan cache pages) since its last turn: an /items page
    statement takes 0.82 ms on one connection used in a loop, 0.97 ms on four used in turn,
    1.01 ms on eight. Lending from a stack keeps the few connections that the load needs warm
    and leaves the rest idle (one client: one backend; wrk, one client: 647 → 843 pages/s).

    ``lend()`` puts a connection in the thread's Django slot for the duration of a read that
    completes inside the call (a fast path's response is built before it returns; Django's own
    responses may stream, so Django keeps its per-thread connections). Django's rules hold
    on the lent connection (``close_old_connections``, health checks, CONN_MAX_AGE). Within a
    transaction, or while Django logs queries (DEBUG, query-count assertions in tests), the
    thread's own connection is used, which sees the transaction and logs the queries.
    """

    def __init__(self, alias: str = DEFAULT_DB_ALIAS) -> None:
        self.alias = alias
        self.idle: list[BaseDatabaseWrapper] = []
        self.lock = threading.Lock()

    @contextmanager
    def lend(self) -> Iterator[None]:
        own = connections[self.alias]
        if own.in_atomic_block or own.queries_logged:
            yield
            return
        with self.lock:
            lent = self.idle.pop() if self.idle else None
        if lent is None:
            lent = connections.create_connection(self.alias)
            lent.inc_thread_sharing()  # used by one thread at a time, whichever borrowed it
        connections[self.alias] = lent
        try:
            yield
        finally:
            connections[self.alias] = own
            with self.lock:
                self.idle.append(lent)

    def close_all(self) -> None:
        """Close the idle connections (tests, before their database is dropped)."""
        with self.lock:
            idle, self.idle = self.idle, []
        for lent in idle:
            lent.close()


warm_connections = WarmConnections()
