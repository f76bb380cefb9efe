"""Fixtures for Cairn's end-to-end tests.

One `cairn serve` runs for the whole session (fixture `server`); most tests get a fresh account created with
`cairn accounts create` (fixture `owner`) so that quotas and listings never interfere between tests. Tests that
restart or kill the server use a private one (fixture `private_server`).
"""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

import pytest

from cairn_e2e import CairnServer, Creds, Integration, setup_integration

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> CairnServer:
    base = tmp_path_factory.mktemp("cairn-session")
    srv = CairnServer(base / "data", base / "logs").start()
    yield srv
    srv.stop()


@pytest.fixture
def private_server(tmp_path, request):
    """Factory for servers of one's own (restart/kill tests). All are stopped at teardown."""
    servers: list[CairnServer] = []
    request.node._cairn_servers = servers

    def make(name: str = "private", extra_args=(), env: dict[str, str] | None = None) -> CairnServer:
        srv = CairnServer(tmp_path / f"{name}-data", tmp_path / f"{name}-logs", extra_args=extra_args, env=env).start()
        servers.append(srv)
        return srv

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def endpoint(server) -> str:
    return server.endpoint


@pytest.fixture
def data_dir(server) -> Path:
    return server.data_dir


@pytest.fixture
def root(server) -> Creds:
    """The default account's root key, read from <data-dir>/root-credentials."""
    return server.root


@pytest.fixture
def make_account(server):
    """Create another account (`cairn accounts create`) on the session server."""

    def make(name: str | None = None) -> Creds:
        return server.create_account(name or f"t{next(_counter)}-{uuid.uuid4().hex[:8]}")

    return make


@pytest.fixture
def owner(make_account) -> Creds:
    """A fresh account for this test: owns the channels and event data stores the test creates."""
    return make_account()


@pytest.fixture
def partner(make_account) -> Creds:
    return make_account()


@pytest.fixture
def ct(server, owner):
    return server.ct(owner)


@pytest.fixture
def ctd(server, owner):
    return server.ctd(owner)


@pytest.fixture
def integ(ct, owner) -> Integration:
    """An integration event data store and a Custom channel feeding it, owned by `owner`."""
    return setup_integration(ct, owner)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the tail of every involved server's log (what the server said about it)."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed:
        return
    servers = []
    srv = item.funcargs.get("server")
    if isinstance(srv, CairnServer):
        servers.append(srv)
    servers += getattr(item, "_cairn_servers", [])
    for srv in servers:
        lines = srv.log_text().splitlines()[-25:]
        rep.sections.append((f"cairn serve log (last {len(lines)} lines of {srv.log_path})", "\n".join(lines)))
