"""The fast paths' database connections (geo.db.WarmConnections through
geo.fastpath.read_database): one client's requests, whichever thread serves them, stay on one
warm backend; concurrent reads never share a connection; the thread's own Django connection
is left as it was; inside a transaction the thread's own connection is used."""

from __future__ import annotations

import threading

import psycopg
from django.db import connection, connections

from geo.db import conninfo, warm_connections
from geo.fastpath import read_database


def _backend() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _in_thread(work):
    result = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    return result[0]


def test_sequential_reads_on_any_thread_reuse_one_warm_backend(committed):
    own = connections["default"]

    def read_and_check_own_slot():
        mine = connections["default"]
        pid = read_database(_backend, "test")
        assert connections["default"] is mine  # the thread's slot is given back
        return pid

    pids = {read_and_check_own_slot()}
    pids |= {_in_thread(read_and_check_own_slot) for _ in range(4)}
    assert len(pids) == 1
    assert connections["default"] is own
    assert pids.pop() != _backend()  # the thread's own connection is not the lent one


def test_concurrent_reads_get_their_own_connections(committed):
    inside = threading.Barrier(3, timeout=10)

    def read():
        def held():
            pid = _backend()
            inside.wait()  # all three reads hold a connection at once
            return pid

        return read_database(held, "test")

    pids = []
    threads = [threading.Thread(target=lambda: pids.append(read())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(pids)) == 3
    # afterwards the most recently returned connection is lent first
    last_returned = warm_connections.idle[-1].connection.info.backend_pid
    assert last_returned in pids
    assert read_database(_backend, "test") == last_returned


def test_a_dead_lent_connection_is_replaced(committed):
    dead = read_database(_backend, "test")
    with psycopg.connect(conninfo(), autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s, 5000)", [dead]).fetchone()[0]
    alive = read_database(_backend, "test")
    assert alive is not None and alive != dead


def test_inside_a_transaction_the_threads_own_connection_reads(db):
    # pytest-django's `db`: the test runs in a transaction the lent connections cannot see
    assert connection.in_atomic_block
    idle = list(warm_connections.idle)
    assert read_database(_backend, "test") == _backend()
    assert warm_connections.idle == idle  # nothing was lent
