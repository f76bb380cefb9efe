"""Disk full: Cairn's storage on a small tmpfs that the test fills up.

Three layouts, each on its own `cairn serve`:

- `events`: only DIR/events/ (the ingest log) is on the tmpfs; metadata, query results and tables stay on the
  normal disk.
- `data-dir`: the whole data directory is on the tmpfs, so the ingest log, SQLite, query results and the event
  tables all compete for the last bytes.
- `data-dir-flushing`: the same with the background flusher running every 100 ms (`--flush-interval-ms`, skipped
  when the binary has none) and the disk kept full for 2 s, so that flushes (seal, Parquet, Delta commits) fail
  on the full disk and must lose nothing.

Each test acknowledges a baseline of events, fills the tmpfs (a filler file leaving a little room, then events
until ingest fails, then the filler takes the last pages) and checks that:

- PutAuditEvents answers with an AWS-shaped server error (HTTP 5xx, restJson1 `__type`/`message`, a clear message
  without Rust internals, retried by the SDK) or per-event `InternalFailure`, within seconds: no hang, no crash
  (the process stays alive, no panic in its log);
- GetEventDataStore, GetChannel, ListChannels and a SQL query keep working, and the query returns every event
  acknowledged before, exactly once, under its eventID;
- events of a request answered with an error (whose message says nothing was stored) are not stored;
- once the filler is removed, ingest works again by itself, without a restart;
- after a graceful restart and after a SIGKILL + start, everything acknowledged is there exactly once.

Mounting needs root (CI runs as root); otherwise the tests skip. The tmpfs is unmounted at teardown, always.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cairn_e2e import (
    REGION,
    CairnServer,
    assert_rest_json_error,
    audit_event,
    event_data,
    raw_put_audit_events,
    run_query,
    setup_integration,
)

MiB = 1 << 20
# A call that takes longer than this counts as a hang (the client's read timeout is above it).
CALL_LIMIT_S = 20.0
RUST_INTERNALS = re.compile(
    r"panicked|unwrap\(\)|RUST_BACKTRACE|Os \{|Io \{|kind: |thread '|src/[a-z_/]+\.rs|\bErr\(|\bSome\(",
)
SERVER_ERROR_CODES = {"InternalFailure", "InternalServerError", "InternalServerException", "ServiceUnavailable",
                      "ServiceUnavailableException", "InsufficientStorage"}


# ------------------------------------------------------------------------------------------------
# the tmpfs


def _umount(path: Path) -> None:
    for _ in range(50):
        r = subprocess.run(["umount", str(path)], capture_output=True, text=True)
        if r.returncode == 0 or not os.path.ismount(path):
            return
        time.sleep(0.1)
    subprocess.run(["umount", "-l", str(path)], capture_output=True, text=True)


@pytest.fixture
def tmpfs():
    """mount(path, size_bytes): a tmpfs of that size at path; every mount is undone at teardown."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs the e2e tests as root)")
    mounts: list[Path] = []

    def mount(path: Path, size: int) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"mount -t tmpfs -o size={size} failed (rc {r.returncode}): {r.stderr.strip()}"
        mounts.append(path)
        return path

    try:
        yield mount
    finally:
        for m in reversed(mounts):
            _umount(m)


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave: int = 0) -> int:
    """Append zeros to the file `path` until its filesystem has at most `leave` bytes free, or (leave=0) until
    even a 4 KiB write fails with ENOSPC. Returns the bytes written."""
    written = 0
    with open(path, "ab", buffering=0) as f:
        for size in ((MiB,) if leave else (MiB, 64 * 1024, 4096)):
            chunk = b"\0" * size
            while True:
                part = chunk
                if leave:
                    want = _free(path.parent) - leave
                    if want <= 0:
                        break
                    part = chunk[: min(size, want)]
                try:
                    n = f.write(part)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
                if not n:
                    break
                written += n
        try:
            os.fsync(f.fileno())
        except OSError:
            pass
    return written


# ------------------------------------------------------------------------------------------------
# bookkeeping


class Ledger:
    """What was sent, what was acknowledged (uid -> eventID), and what was answered with an error."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.n = 0
        self.sent: set[str] = set()
        self.acked: dict[str, str] = {}
        self.refused: set[str] = set()  # uids of requests answered with an error, or in failed[]

    def batch(self, size: int, recipient: str, pad: int = 0) -> tuple[list[dict], dict[str, str]]:
        self.n += 1
        uids = [f"{self.prefix}-r{self.n}-e{i}" for i in range(size)]
        # Dated now: well inside any retention period, so a flush never drops them as expired.
        over: dict = {"eventTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if pad:
            over["additionalEventData"] = {"pad": "d" * pad}
        events = [audit_event(f"e{i}", event_data(u, recipient, over)) for i, u in enumerate(uids)]
        self.sent.update(uids)
        return events, {f"e{i}": u for i, u in enumerate(uids)}


def _client(endpoint: str, service: str, creds, max_attempts: int = 1):
    cfg = Config(region_name=REGION, retries={"total_max_attempts": max_attempts, "mode": "standard"},
                 connect_timeout=5, read_timeout=CALL_LIMIT_S + 10)
    session = boto3.session.Session(aws_access_key_id=creds.access_key_id,
                                    aws_secret_access_key=creds.secret_access_key, region_name=REGION)
    return session.client(service, endpoint_url=endpoint, config=cfg)


class Outcome:
    def __init__(self, ok: bool, status: int | None, code: str | None, message: str, seconds: float, retries: int):
        self.ok, self.status, self.code, self.message, self.seconds, self.retries = ok, status, code, message, seconds, retries

    def __repr__(self) -> str:
        return f"<{'ok' if self.ok else f'HTTP {self.status} {self.code}'} {self.seconds:.2f}s retries={self.retries} {self.message[:200]!r}>"


def put(ctd, integ, ledger: Ledger, size: int, pad: int, problems: list[str]) -> Outcome:
    """One PutAuditEvents (the SDK may retry once); records the result in the ledger; checks the error's shape."""
    events, uids = ledger.batch(size, integ.owner.account_id, pad)
    t0 = time.monotonic()
    try:
        resp = ctd.put_audit_events(channelArn=integ.channel_arn, auditEvents=events)
    except ClientError as e:
        dt = time.monotonic() - t0
        err = e.response.get("Error", {})
        meta = e.response.get("ResponseMetadata", {})
        out = Outcome(False, meta.get("HTTPStatusCode"), err.get("Code"), err.get("Message") or "", dt,
                      meta.get("RetryAttempts", 0))
        ledger.refused.update(uids.values())
        _check_server_error(out, problems, "PutAuditEvents")
        return out
    except Exception as e:  # noqa: BLE001 - read timeout, connection reset: a hang or a crash
        dt = time.monotonic() - t0
        problems.append(f"PutAuditEvents got no answer after {dt:.1f}s on a full disk: {type(e).__name__}: {e}")
        ledger.refused.update(uids.values())  # unknown; excluded from the exactly-once checks below
        return Outcome(False, None, type(e).__name__, str(e), dt, 0)
    dt = time.monotonic() - t0
    if dt > CALL_LIMIT_S:
        problems.append(f"PutAuditEvents took {dt:.1f}s")
    ok = {e["id"]: e["eventID"] for e in resp.get("successful", [])}
    for id_, event_id in ok.items():
        ledger.acked[uids[id_]] = event_id
    for f in resp.get("failed", []):
        ledger.refused.add(uids[f["id"]])
        if f.get("errorCode") != "InternalFailure":
            problems.append(f"an event failed with {f.get('errorCode')} ({f.get('errorMessage')}), expected InternalFailure on a full disk")
        if RUST_INTERNALS.search(f.get("errorMessage", "")):
            problems.append(f"failed[] message shows Rust internals: {f.get('errorMessage')!r}")
    missing = set(uids) - set(ok) - {f["id"] for f in resp.get("failed", [])}
    if missing:
        problems.append(f"PutAuditEvents response lacks ids {sorted(missing)}")
    failed = resp.get("failed", [])
    return Outcome(not failed, 200, failed[0]["errorCode"] if failed else None,
                   failed[0].get("errorMessage", "") if failed else "", dt, resp["ResponseMetadata"].get("RetryAttempts", 0))


def _check_server_error(out: Outcome, problems: list[str], what: str) -> None:
    if out.status is None or not 500 <= out.status <= 599:
        problems.append(f"{what} on a full disk answered HTTP {out.status} {out.code}: {out.message!r}; expected a 5xx server error that SDKs retry")
    if out.code not in SERVER_ERROR_CODES:
        problems.append(f"{what} on a full disk answered error code {out.code!r}; expected one of {sorted(SERVER_ERROR_CODES)}")
    if not out.message.strip():
        problems.append(f"{what} on a full disk answered {out.code} with an empty message")
    if RUST_INTERNALS.search(out.message):
        problems.append(f"{what}'s error message shows Rust internals: {out.message!r}")
    if out.seconds > CALL_LIMIT_S:
        problems.append(f"{what} took {out.seconds:.1f}s to fail")


def check_store(ct, integ, ledger: Ledger, when: str, problems: list[str]) -> int:
    """SQL over the event data store: every acknowledged event exactly once under its eventID; no refused or
    never-sent event. Returns the number of rows."""
    try:
        r = run_query(ct, f"SELECT eventID, eventData.uid FROM {integ.eds_id}", page_size=1000, timeout=120)
    except (AssertionError, ClientError) as e:
        problems.append(f"{when}: the SQL query failed: {e}")
        return -1
    rows = [(row[0][1], row[1][1]) for row in r.rows]
    uids = Counter(u for _, u in rows)
    ids = Counter(i for i, _ in rows)
    stored: dict[str, set[str]] = {}
    for i, u in rows:
        stored.setdefault(u, set()).add(i)
    dups = [f"{u} x{c}" for u, c in uids.items() if c > 1] + [f"eventID {i} x{c}" for i, c in ids.items() if c > 1]
    lost = [u for u in ledger.acked if u not in stored]
    wrong = [u for u, i in ledger.acked.items() if u in stored and i not in stored[u]]
    unknown = [u for u in stored if u not in ledger.sent]
    refused_stored = [u for u in stored if u in ledger.refused and u not in ledger.acked]
    if dups:
        acked_dups = [u for u, c in uids.items() if c > 1 and u in ledger.acked]
        problems.append(f"{when}: {len(dups)} events/eventIDs stored more than once, e.g. {dups[:5]}"
                        + (f" ({len(acked_dups)} of them acknowledged, e.g. {acked_dups[:3]}: an SDK retry after a 5xx "
                           f"whose first attempt had stored the events)" if acked_dups else ""))
    if lost:
        problems.append(f"{when}: {len(lost)} of {len(ledger.acked)} acknowledged events are missing, e.g. {lost[:5]}")
    if wrong:
        problems.append(f"{when}: {len(wrong)} acknowledged events have another eventID, e.g. {wrong[:5]}")
    if unknown:
        problems.append(f"{when}: {len(unknown)} events nobody sent, e.g. {unknown[:5]}")
    if refused_stored:
        problems.append(
            f"{when}: {len(refused_stored)} events of requests answered with an error (which says none of them was "
            f"stored) are stored, e.g. {refused_stored[:5]}; an SDK retry of such a request stores them twice"
        )
    return len(rows)


def check_control_plane(srv: CairnServer, integ, when: str, problems: list[str]) -> None:
    ct = _client(srv.endpoint, "cloudtrail", integ.owner)
    for name, call in [
        ("GetEventDataStore", lambda: ct.get_event_data_store(EventDataStore=integ.eds_arn)["Status"] == "ENABLED"),
        ("GetChannel", lambda: ct.get_channel(Channel=integ.channel_arn)["ChannelArn"] == integ.channel_arn),
        ("ListChannels", lambda: any(c["ChannelArn"] == integ.channel_arn for c in ct.list_channels()["Channels"])),
        ("ListEventDataStores", lambda: any(e["EventDataStoreArn"] == integ.eds_arn
                                            for e in ct.list_event_data_stores()["EventDataStores"])),
    ]:
        t0 = time.monotonic()
        try:
            if not call():
                problems.append(f"{when}: {name} answered, but without the expected resource")
        except Exception as e:  # noqa: BLE001
            problems.append(f"{when}: {name} failed: {type(e).__name__}: {e}")
        if time.monotonic() - t0 > CALL_LIMIT_S:
            problems.append(f"{when}: {name} took {time.monotonic() - t0:.1f}s")


def check_alive(srv: CairnServer, when: str, problems: list[str]) -> None:
    if not srv.running:
        problems.append(f"{when}: cairn serve is gone (exit code {srv.proc.returncode if srv.proc else '?'})")
    lines = srv.log_text().splitlines()
    panics = [f"{line.strip()} {lines[i + 1].strip() if i + 1 < len(lines) else ''}"
              for i, line in enumerate(lines) if "panicked" in line]
    seen = getattr(srv, "_panics_reported", {}).get(srv.log_path, 0)
    if len(panics) > seen:
        problems.append(f"{when}: the server log ({srv.log_path.name}) shows {len(panics) - seen} more panics, e.g. {panics[seen]!r}")
        srv._panics_reported = {**getattr(srv, "_panics_reported", {}), srv.log_path: len(panics)}


# ------------------------------------------------------------------------------------------------
# the test


def _serve_flags() -> set[str]:
    from cairn_e2e import cairn_bin

    out = subprocess.run([str(cairn_bin()), "serve", "--help"], capture_output=True, text=True, timeout=30)
    return set(re.findall(r"--[a-z0-9][a-z0-9-]*", out.stdout + out.stderr))


@pytest.mark.parametrize("layout", ["events", "data-dir", "data-dir-flushing"])
def test_disk_full(tmpfs, tmp_path, request, monkeypatch, layout):
    # The flusher's reports (events flushed, expired) in the server log, without Delta Lake's chatter.
    if not os.environ.get("CAIRN_LOG"):
        monkeypatch.setenv("CAIRN_LOG", "info,lake=debug,tables=debug,store=debug,deltalake=warn,deltalake_core=warn,buoyant_kernel=warn")
    data_dir = tmp_path / "data"
    extra: list[str] = []
    if layout == "events":
        mnt = tmpfs(data_dir / "events", 8 * MiB)
    else:
        mnt = tmpfs(data_dir, 24 * MiB)
    if layout == "data-dir-flushing":
        # The background flusher (ingest log -> tables on the same full disk) runs every 100 ms.
        flags = _serve_flags()
        if "--flush-interval-ms" not in flags:
            pytest.skip("this cairn has no background flusher (no --flush-interval-ms)")
        extra = ["--flush-interval-ms", "100"] + (["--retention-interval", "1"] if "--retention-interval" in flags else [])
    srv = CairnServer(data_dir, tmp_path / "logs", extra_args=extra)
    request.node._cairn_servers = [srv]
    problems: list[str] = []
    try:
        srv.start()
        _run(srv, mnt, layout, problems)
    finally:
        srv.stop()  # the mount must not be busy when the fixture unmounts it
        if problems:  # the tmpfs goes at teardown: keep what the server left there
            evidence = tmp_path / "evidence"
            shutil.copytree(mnt, evidence / mnt.name, ignore=shutil.ignore_patterns("filler*"), dirs_exist_ok=True)
            if layout == "events":
                shutil.copytree(data_dir, evidence / "data", ignore=shutil.ignore_patterns("events"), dirs_exist_ok=True)
            problems.append(f"(the data directory as the server left it is copied to {evidence}; logs in {tmp_path / 'logs'})")
    assert not problems, f"disk full ({layout} on a tmpfs): {len(problems)} problems:\n- " + "\n- ".join(problems)


def _run(srv: CairnServer, mnt: Path, layout: str, problems: list[str]) -> None:
    owner = srv.root
    integ = setup_integration(srv.ct(owner), owner)
    ledger = Ledger(f"df-{layout}-{uuid.uuid4().hex[:8]}")
    ctd = _client(srv.endpoint, "cloudtrail-data", owner, max_attempts=2)  # one attempt plus one SDK retry

    # 1. A baseline, acknowledged while there is room.
    for _ in range(5):
        out = put(ctd, integ, ledger, 50, 200, problems)
        assert out.ok, f"baseline PutAuditEvents failed before the disk was full: {out}"
    baseline = len(ledger.acked)
    assert baseline == 250

    # 2. A filler leaves 256 KiB; then events until ingest fails.
    filler = mnt / "filler"
    fill(filler, leave=256 * 1024)
    failures: list[Outcome] = []
    for _ in range(100):  # ~1.6 MB: more than the room left, unless a flush freed log segments meanwhile
        out = put(ctd, integ, ledger, 20, 800, problems)
        if not out.ok:
            failures.append(out)
            break

    # 3. The filler takes the last pages: requests of any size fail (a tiny one may still fit in a page the log
    #    already has; then it is acknowledged and must be kept like any other). A flush cannot free anything
    #    now: it must write the tables before it may remove log segments.
    fill(mnt / "filler-2")
    for size, pad in [(1, 0), (10, 100), (100, 100)]:
        out = put(ctd, integ, ledger, size, pad, problems)
        if not out.ok:
            failures.append(out)
    assert failures, f"PutAuditEvents never failed although the tmpfs is full ({_free(mnt)} bytes free)"
    first = failures[0]
    # The same through raw HTTP: restJson1 error shape (status, x-amzn-ErrorType, {"__type","message"}).
    events, uids = ledger.batch(30, owner.account_id, 500)
    raw = raw_put_audit_events(srv.endpoint, owner, integ.channel_arn, {"auditEvents": events})
    if raw.status == 200:
        body = raw.json()
        for f in body.get("failed", []):
            ledger.refused.add(uids[f["id"]])
        for s in body.get("successful", []):
            ledger.acked[uids[s["id"]]] = s["eventID"]
    else:
        ledger.refused.update(uids.values())
        try:
            body = assert_rest_json_error(raw, SERVER_ERROR_CODES, status=raw.status)
            if not 500 <= raw.status <= 599:
                problems.append(f"raw PutAuditEvents on a full disk: HTTP {raw.status}, expected 5xx: {body}")
            if RUST_INTERNALS.search(body.get("message", "")):
                problems.append(f"raw PutAuditEvents error message shows Rust internals: {body['message']!r}")
        except AssertionError as e:
            problems.append(f"raw PutAuditEvents on a full disk: {e}")
    if first.status != 200 and first.retries != 1:
        problems.append(f"the SDK did not retry the HTTP {first.status} {first.code} (RetryAttempts {first.retries})")
    print(f"[{layout}] acknowledged {len(ledger.acked)} events; failures on a full disk: {failures}")

    # The operator can tell why from the server's log.
    if not re.search(r"No space left on device|os error 28|disk is full|ENOSPC", srv.log_text(), re.I):
        problems.append("the server log does not say that the disk is full (No space left on device)")

    if layout == "data-dir-flushing":
        time.sleep(2)  # ~20 flushes (and retention passes) on the full disk
        flush_failures = [l for l in srv.log_text().splitlines() if "flush failed" in l]
        print(f"[{layout}] {len(flush_failures)} flushes failed on the full disk, e.g. {flush_failures[:1]}")

    # 4. Everything else keeps working, and the server is alive.
    check_alive(srv, "disk full", problems)
    check_control_plane(srv, integ, "disk full", problems)
    ct = _client(srv.endpoint, "cloudtrail", owner)
    n = check_store(ct, integ, ledger, "disk full", problems)
    print(f"[{layout}] query on the full disk: {n} rows (acknowledged {len(ledger.acked)})")
    check_alive(srv, "disk full, after the reads", problems)

    # 5. Room again: ingest works by itself, no restart.
    acked_before = len(ledger.acked)
    (mnt / "filler").unlink()
    (mnt / "filler-2").unlink()
    deadline = time.monotonic() + 10
    recovered = None
    while time.monotonic() < deadline:
        out = put(_client(srv.endpoint, "cloudtrail-data", owner), integ, ledger, 50, 200, [])
        if out.ok:
            recovered = out
            break
        time.sleep(0.5)
    if recovered is None:
        problems.append(f"ingest did not work again within 10 s after the filler was removed (last: {out})")
    else:
        for _ in range(4):
            out = put(ctd, integ, ledger, 50, 200, problems)
            if not out.ok:
                problems.append(f"PutAuditEvents failed after the disk had room again: {out}")
    if len(ledger.acked) <= acked_before:
        problems.append("nothing was acknowledged after the disk had room again")
    check_alive(srv, "after the filler was removed", problems)
    check_store(ct, integ, ledger, "after the filler was removed", problems)

    # 6. Restarts: graceful, then SIGKILL.
    rc = srv.stop(timeout=30)
    if rc != 0:
        problems.append(f"cairn serve exited {rc} on SIGTERM after the disk-full episode")
    srv.start()
    check_control_plane(srv, integ, "after a restart", problems)
    check_store(_client(srv.endpoint, "cloudtrail", owner), integ, ledger, "after a restart", problems)
    out = put(_client(srv.endpoint, "cloudtrail-data", owner), integ, ledger, 10, 0, problems)
    if not out.ok:
        problems.append(f"PutAuditEvents after the restart failed: {out}")
    srv.kill()
    srv.start()
    check_store(_client(srv.endpoint, "cloudtrail", owner), integ, ledger, "after SIGKILL and start", problems)
    check_alive(srv, "at the end", problems)
    print(f"[{layout}] final: {len(ledger.acked)} events acknowledged, {len(ledger.refused)} refused")
