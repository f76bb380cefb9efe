"""Event tables: the ingest log flushed into Delta Lake tables that other tools read, exactly once across flushes,
compaction and restarts; retention by eventTime; the 7-day purge of deleted stores; Stop/StartEventDataStoreIngestion."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from pathlib import Path

from deltalake import DeltaTable

from cairn_e2e import (
    MANAGEMENT_SELECTORS,
    assert_partition,
    audit_event,
    create_channel,
    create_integration_eds,
    event_data,
    expect_error,
    run_aws,
    run_query,
    setup_integration,
    wait_for,
)

FAST = ["--flush-interval-ms", "100", "--retention-interval", "1"]


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _send(srv, owner, channel_arn: str, uids: list[str], when: dt.datetime | None = None) -> dict[str, str]:
    """Sends one request; returns uid -> eventID of the acknowledged events."""
    t = _iso(when or _now())
    events = [audit_event(f"e{i}", event_data(uid, owner.account_id, eventTime=t)) for i, uid in enumerate(uids)]
    resp = srv.ctd(owner).put_audit_events(channelArn=channel_arn, auditEvents=events)
    ok, bad = assert_partition(resp, [e["id"] for e in events])
    assert bad == {}, bad
    return {uids[int(i[1:])]: eid for i, eid in ok.items()}


def _sql_rows(ct, eds_id: str) -> dict[str, str]:
    """eventID -> uid, asserting each eventID appears once."""
    r = run_query(ct, f"SELECT eventID, eventData.uid FROM {eds_id}", page_size=1000, timeout=120)
    ids = Counter(row[0][1] for row in r.rows)
    assert not [k for k, v in ids.items() if v > 1], "an eventID appears more than once"
    return {row[0][1]: row[1][1] for row in r.rows}


def _table(srv, eds_id: str) -> Path:
    return srv.data_dir / "tables" / eds_id


def _delta_rows(srv, eds_id: str) -> dict[str, str]:
    t = DeltaTable(str(_table(srv, eds_id))).to_pyarrow_table(columns=["eventid", "eventdata"])
    out = {}
    for eid, data in zip(t.column("eventid").to_pylist(), t.column("eventdata").to_pylist()):
        assert eid not in out, f"{eid} twice in the Delta table"
        out[eid] = data["uid"]
    return out


def _days_later(srv, days: int) -> None:
    """Restarts the server with its clock `days` ahead (and a skew window that still accepts our signatures)."""
    srv.stop()
    srv.extra_args = FAST + ["--clock-offset", str(days * 86400), "--max-clock-skew", str(days * 86400 + 600)]
    srv.start()


def _flushed(srv, eds_id: str, n: int) -> None:
    """Waits until the table holds n events and the ingest log is empty."""

    def done():
        p = _table(srv, eds_id)
        if not (p / "_delta_log").is_dir():
            return False
        logs = sum(f.stat().st_size for f in (srv.data_dir / "events").glob("*.log"))
        return len(_delta_rows(srv, eds_id)) == n and logs == 0

    wait_for(done, timeout=30, what=f"{n} events flushed into {eds_id}")


def test_tables_are_readable_without_cairn_and_match_sql(private_server):
    srv = private_server("tables", extra_args=FAST)
    owner = srv.root
    integ = setup_integration(srv.ct(owner), owner)
    acked: dict[str, str] = {}
    day = _now() - dt.timedelta(days=3)
    for b in range(4):  # four days, several requests each
        for r in range(3):
            acked.update(_send(srv, owner, integ.channel_arn, [f"d{b}-r{r}-{i}" for i in range(25)], day + dt.timedelta(days=b)))
    expected = {eid: uid for uid, eid in acked.items()}
    _flushed(srv, integ.eds_id, len(expected))

    # The independent reader (the `deltalake` package) and Cairn's SQL see the same events, exactly once.
    assert _delta_rows(srv, integ.eds_id) == expected
    assert _sql_rows(srv.ct(owner), integ.eds_id) == expected
    days = sorted(p.name for p in _table(srv, integ.eds_id).glob("eventday=*"))
    assert days == [f"eventday={(day + dt.timedelta(days=b)).date().isoformat()}" for b in range(4)]
    assert all(f.name.endswith(".zstd.parquet") for f in _table(srv, integ.eds_id).glob("eventday=*/*.parquet"))

    # Unflushed and flushed together, then across a restart.
    more = _send(srv, owner, integ.channel_arn, [f"late-{i}" for i in range(10)])
    expected.update({eid: uid for uid, eid in more.items()})
    assert _sql_rows(srv.ct(owner), integ.eds_id) == expected
    srv.restart()
    assert _sql_rows(srv.ct(owner), integ.eds_id) == expected
    _flushed(srv, integ.eds_id, len(expected))
    assert _delta_rows(srv, integ.eds_id) == expected


def test_small_files_are_compacted(private_server):
    srv = private_server("compaction", extra_args=FAST)
    owner = srv.root
    integ = setup_integration(srv.ct(owner), owner)
    expected = {}
    for r in range(12):  # one file per flush while requests trickle in
        got = _send(srv, owner, integ.channel_arn, [f"c{r}-{i}" for i in range(5)])
        expected.update({eid: uid for uid, eid in got.items()})
        wait_for(lambda: sum(f.stat().st_size for f in (srv.data_dir / "events").glob("*.log")) == 0, timeout=10,
                 what="a flush")
    _flushed(srv, integ.eds_id, len(expected))
    files = DeltaTable(str(_table(srv, integ.eds_id))).file_uris()
    assert len(files) < 8, f"{len(files)} files: small files were not compacted"
    assert _sql_rows(srv.ct(owner), integ.eds_id) == expected
    assert _delta_rows(srv, integ.eds_id) == expected


def test_retention_counts_from_event_time(private_server):
    srv = private_server("retention", extra_args=FAST)
    owner = srv.root
    ct = srv.ct(owner)
    eds = create_integration_eds(ct, RetentionPeriod=7, TerminationProtectionEnabled=False)
    eds_id = eds["EventDataStoreArn"].rsplit("/", 1)[-1]
    chan = create_channel(ct, eds["EventDataStoreArn"])["ChannelArn"]
    now = _now()
    old = _send(srv, owner, chan, ["old"], now - dt.timedelta(days=30))  # acknowledged, but past the retention
    recent = _send(srv, owner, chan, ["five-days"], now - dt.timedelta(days=5))
    fresh = _send(srv, owner, chan, ["now"], now)
    assert old and recent and fresh
    keep = {recent["five-days"]: "five-days", fresh["now"]: "now"}
    assert _sql_rows(ct, eds_id) == keep, "events past the retention are never seen"
    _flushed(srv, eds_id, 2)
    assert _delta_rows(srv, eds_id) == keep

    # Three days later the five-day-old event is past its seven days: its whole day is dropped.
    _days_later(srv, 3)
    wait_for(lambda: _delta_rows(srv, eds_id) == {fresh["now"]: "now"}, timeout=30, what="the expired day dropped")
    assert _sql_rows(srv.ct(owner), eds_id) == {fresh["now"]: "now"}


def test_deleted_store_is_restorable_for_seven_days_then_purged(private_server):
    srv = private_server("purge", extra_args=FAST)
    owner = srv.root
    ct = srv.ct(owner)
    keep_eds = create_integration_eds(ct, TerminationProtectionEnabled=False)
    doomed = create_integration_eds(ct, TerminationProtectionEnabled=False)
    doomed_id = doomed["EventDataStoreArn"].rsplit("/", 1)[-1]
    chan = create_channel(ct, doomed["EventDataStoreArn"])["ChannelArn"]
    acked = _send(srv, owner, chan, [f"p{i}" for i in range(5)])
    _flushed(srv, doomed_id, 5)
    ct.delete_channel(Channel=chan)
    ct.delete_event_data_store(EventDataStore=doomed["EventDataStoreArn"])

    # Six days later: still PENDING_DELETION, restorable, the events intact.
    _days_later(srv, 6)
    time.sleep(1.5)  # a retention pass runs every second
    ct = srv.ct(owner)
    assert ct.get_event_data_store(EventDataStore=doomed["EventDataStoreArn"])["Status"] == "PENDING_DELETION"
    ct.restore_event_data_store(EventDataStore=doomed["EventDataStoreArn"])
    assert _sql_rows(ct, doomed_id) == {eid: uid for uid, eid in acked.items()}
    ct.delete_event_data_store(EventDataStore=doomed["EventDataStoreArn"])  # deleted again, on day 6

    # Eight days after that: purged, metadata and table alike; the other store is untouched.
    _days_later(srv, 14)
    ct = srv.ct(owner)
    wait_for(lambda: not _table(srv, doomed_id).exists(), timeout=30, what="the table purged")
    expect_error("EventDataStoreNotFoundException", 404, ct.get_event_data_store, EventDataStore=doomed["EventDataStoreArn"])
    assert doomed["EventDataStoreArn"] not in [e["EventDataStoreArn"] for e in ct.list_event_data_stores()["EventDataStores"]]
    assert ct.get_event_data_store(EventDataStore=keep_eds["EventDataStoreArn"])["Status"] == "ENABLED"


def test_stop_and_start_ingestion(private_server):
    srv = private_server("ingestion")
    owner = srv.root
    ct = srv.ct(owner)
    integ = create_integration_eds(ct)
    e = expect_error("InvalidEventDataStoreCategoryException", 400, ct.stop_event_data_store_ingestion,
                     EventDataStore=integ["EventDataStoreArn"])
    assert "ActivityAuditLog" in str(e)
    mgmt = ct.create_event_data_store(Name=f"mgmt-{uuid.uuid4().hex[:6]}", AdvancedEventSelectors=MANAGEMENT_SELECTORS)
    arn = mgmt["EventDataStoreArn"]
    expect_error("InvalidEventDataStoreStatusException", 400, ct.start_event_data_store_ingestion, EventDataStore=arn)
    ct.stop_event_data_store_ingestion(EventDataStore=arn)
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "STOPPED_INGESTION"
    expect_error("InvalidEventDataStoreStatusException", 400, ct.stop_event_data_store_ingestion, EventDataStore=arn)
    r = run_aws(srv.endpoint, ["cloudtrail", "start-event-data-store-ingestion", "--event-data-store", arn.rsplit("/", 1)[-1]],
                creds=owner)
    assert r.rc == 0, r.display
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "ENABLED"
    expect_error("EventDataStoreNotFoundException", 404, ct.stop_event_data_store_ingestion,
                 EventDataStore=f"arn:aws:cloudtrail:us-east-1:{owner.account_id}:eventdatastore/{uuid.uuid4()}")
