"""Durability: every event acknowledged before a SIGKILL is queryable after restart, exactly once."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

from cairn_e2e import assert_partition, audit_event, event_data, run_query, setup_integration


def _send(ctd, integ, prefix: str, n: int, sent: set, acked: dict):
    events = [audit_event(f"e{i}", event_data(f"{prefix}-{i:03d}", integ.owner.account_id)) for i in range(n)]
    uids = {e["id"]: f"{prefix}-{i:03d}" for i, e in enumerate(events)}
    sent.update(uids.values())
    resp = ctd.put_audit_events(channelArn=integ.channel_arn, auditEvents=events)
    ok, bad = assert_partition(resp, list(uids))
    assert bad == {}, bad
    for id_, event_id in ok.items():
        acked[uids[id_]] = event_id


def _all_rows(ct, eds_id):
    r = run_query(ct, f"SELECT eventID, eventData.uid FROM {eds_id}", page_size=1000, timeout=120)
    return [(row[0][1], row[1][1]) for row in r.rows]


def _check(ct, integ, sent: set, acked: dict):
    rows = _all_rows(ct, integ.eds_id)
    ids = Counter(eid for eid, _ in rows)
    dup_ids = [k for k, v in ids.items() if v > 1]
    assert not dup_ids, f"eventIDs stored more than once: {dup_ids[:10]}"
    uids = Counter(uid for _, uid in rows)
    dup_uids = [k for k, v in uids.items() if v > 1]
    assert not dup_uids, f"events stored more than once: {dup_uids[:10]}"
    stored = {uid: eid for eid, uid in rows}
    lost = sorted(u for u in acked if u not in stored)
    assert not lost, f"{len(lost)} acknowledged events lost, e.g. {lost[:10]}"
    wrong = [u for u, eid in acked.items() if stored[u] != eid]
    assert not wrong, f"acknowledged events stored under another eventID: {wrong[:10]}"
    unknown = set(stored) - sent
    assert not unknown, f"events nobody sent: {sorted(unknown)[:10]}"
    return stored


def test_sigkill_in_the_middle(private_server):
    srv = private_server("durability")
    owner = srv.root
    partner = srv.create_account("survivor")
    integ = setup_integration(srv.ct(owner), owner)
    sent: set[str] = set()
    acked: dict[str, str] = {}

    # 1. Sequential batches, all acknowledged.
    ctd = srv.ctd(owner)
    for b in range(5):
        _send(ctd, integ, f"seq{b}", 20, sent, acked)
    assert len(acked) == 100

    # 2. Concurrent writers (group commit), killed with SIGKILL while requests are in flight.
    stop = threading.Event()
    lock = threading.Lock()
    errors: list[BaseException] = []
    batches = Counter()

    def writer(w: int):
        client = srv.ctd(owner)
        b = 0
        while not stop.is_set():
            local_sent: set[str] = set()
            local_acked: dict[str, str] = {}
            try:
                _send(client, integ, f"w{w}-b{b}", 10, local_sent, local_acked)
            except AssertionError as e:  # a wrong answer from a live server is a failure
                errors.append(e)
                return
            except Exception:  # connection refused/reset once the server is killed: not acknowledged
                with lock:
                    sent.update(local_sent)
                return
            finally:
                with lock:
                    sent.update(local_sent)
                    acked.update(local_acked)
            with lock:
                batches[w] += 1
            b += 1

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while sum(batches.values()) < 40 and time.monotonic() < deadline and not errors:
        time.sleep(0.01)
    srv.kill()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert sum(batches.values()) >= 40, f"only {sum(batches.values())} concurrent batches acknowledged before the deadline"
    acked_before_kill = dict(acked)

    # 3. Restart on the same data directory: metadata and credentials are back.
    srv.start()
    assert srv.root == owner
    ct = srv.ct(owner)
    assert ct.get_channel(Channel=integ.channel_arn)["ChannelArn"] == integ.channel_arn
    assert ct.get_event_data_store(EventDataStore=integ.eds_arn)["Status"] == "ENABLED"
    srv.ct(partner).list_channels()

    stored = _check(ct, integ, sent, acked_before_kill)
    assert len(stored) >= len(acked_before_kill)

    # 4. More events after the restart; everything acknowledged, before and after, is there once.
    ctd = srv.ctd(owner)
    for b in range(3):
        _send(ctd, integ, f"after{b}", 50, sent, acked)
    _check(ct, integ, sent, acked)

    # 5. A graceful restart changes nothing.
    srv.restart()
    ct = srv.ct(owner)
    stored2 = _check(ct, integ, sent, acked)
    assert len(stored2) == len(stored) + 150


def test_acknowledged_single_event_survives_immediate_kill(private_server):
    srv = private_server("kill-now")
    owner = srv.root
    integ = setup_integration(srv.ct(owner), owner)
    uid = f"now-{uuid.uuid4().hex}"
    resp = srv.ctd(owner).put_audit_events(channelArn=integ.channel_arn,
                                           auditEvents=[audit_event("a1", event_data(uid, owner.account_id))])
    event_id = resp["successful"][0]["eventID"]
    srv.kill()
    srv.start()
    r = run_query(srv.ct(owner), f"SELECT eventID FROM {integ.eds_id} WHERE eventData.uid = '{uid}'")
    assert r.rows == [[("eventID", event_id)]]


def test_resource_policy_and_deletion_state_survive_restart(private_server):
    srv = private_server("meta")
    owner = srv.root
    ct = srv.ct(owner)
    integ = setup_integration(ct, owner)
    doc = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"444455556666"},'
           f'"Action":"cloudtrail-data:PutAuditEvents","Resource":"{integ.channel_arn}"}}]}}')
    ct.put_resource_policy(ResourceArn=integ.channel_arn, ResourcePolicy=doc)
    other = ct.create_event_data_store(Name="to-delete", TerminationProtectionEnabled=False,
                                       AdvancedEventSelectors=[{"Name": "i", "FieldSelectors": [
                                           {"Field": "eventCategory", "Equals": ["ActivityAuditLog"]}]}])
    ct.delete_event_data_store(EventDataStore=other["EventDataStoreArn"])
    srv.kill()
    srv.start()
    ct = srv.ct(owner)
    assert ct.get_resource_policy(ResourceArn=integ.channel_arn)["ResourcePolicy"]
    assert ct.get_event_data_store(EventDataStore=other["EventDataStoreArn"])["Status"] == "PENDING_DELETION"
    assert ct.restore_event_data_store(EventDataStore=other["EventDataStoreArn"])["Status"] == "ENABLED"
