"""PutAuditEvents (cloudtrail-data, restJson1): request-level errors and per-event failures (CASES PAE-01..07)."""

from __future__ import annotations

import datetime as dt
import hashlib
import base64
import json
import uuid

import pytest

from cairn_e2e import (
    DELETE,
    MANAGEMENT_SELECTORS,
    assert_partition,
    assert_rest_json_error,
    audit_event,
    checksum,
    count_rows,
    event_data,
    expect_error,
    raw_put_audit_events,
    run_query,
)

ED1 = ('{"version":"1.0","userIdentity":{"type":"CustomUser","principalId":"alice"},"eventSource":"myapp.example.com",'
       '"eventName":"Login","eventTime":"2024-01-15T11:59:00Z","UID":"evt-0001","recipientAccountId":"111122223333"}')


def test_event_builder_matches_cases_ed1():
    """Guard for the suite itself: our builder produces CASES' ED1 byte for byte, with its published checksum.

    (CASES says ED1 is 214 bytes; it is 218. The published checksum is right, and is what we check.)
    """
    assert event_data("evt-0001", "111122223333") == ED1
    assert checksum(ED1) == "w15dAmksxpp+sUmxwYv/b0ML6glua1qex32UPN9OmvA="


def _uid() -> str:
    return f"u-{uuid.uuid4().hex}"


def _stored_uids(ct, eds_id: str, prefix: str) -> list[str]:
    r = run_query(ct, f"SELECT eventData.uid FROM {eds_id} WHERE eventData.uid LIKE '{prefix}%'")
    return sorted(r.column("uid"))


# ------------------------------------------------------------------------------------------------
# success


def test_single_event_accepted(ctd, integ, owner):
    data = event_data(_uid(), owner.account_id)
    resp = ctd.put_audit_events(channelArn=integ.channel_arn, auditEvents=[audit_event("evt-0001", data, True)])
    ok, bad = assert_partition(resp, ["evt-0001"])
    assert bad == {}
    assert resp["successful"][0]["eventID"] != "evt-0001"


def test_bare_channel_id_is_accepted(ctd, ct, integ, owner):
    uid = _uid()
    resp = ctd.put_audit_events(channelArn=integ.channel_id, auditEvents=[audit_event("a1", event_data(uid, owner.account_id))])
    assert_partition(resp, ["a1"])
    assert resp["failed"] == []
    assert _stored_uids(ct, integ.eds_id, uid) == [uid]


def test_hundred_events_ok_hundred_and_one_rejected(ctd, ct, integ, owner):
    p = f"h-{uuid.uuid4().hex[:8]}-"
    events = [audit_event(f"e{i:03d}", event_data(f"{p}{i:03d}", owner.account_id)) for i in range(1, 101)]
    resp = ctd.put_audit_events(channelArn=integ.channel_arn, auditEvents=events)
    ok, bad = assert_partition(resp, [e["id"] for e in events])
    assert len(ok) == 100 and bad == {}

    p2 = f"x-{uuid.uuid4().hex[:8]}-"
    events = [audit_event(f"e{i:03d}", event_data(f"{p2}{i:03d}", owner.account_id)) for i in range(1, 102)]
    e = expect_error("ValidationException", 400, ctd.put_audit_events, channelArn=integ.channel_arn, auditEvents=events)
    assert "100" in e.response["Error"]["Message"]
    assert _stored_uids(ct, integ.eds_id, p2) == []
    assert len(_stored_uids(ct, integ.eds_id, p)) == 100


def test_empty_event_list_rejected(server, owner, integ):
    ctd = server.ctd(owner, parameter_validation=False)
    expect_error("ValidationException", 400, ctd.put_audit_events, channelArn=integ.channel_arn, auditEvents=[])
    r = raw_put_audit_events(server.endpoint, owner, integ.channel_arn, {"auditEvents": []})
    assert_rest_json_error(r, "ValidationException")


def test_body_over_one_megabyte_rejected(ctd, ct, integ, owner):
    p = f"big-{uuid.uuid4().hex[:8]}-"
    events = [
        audit_event(f"b{i}", event_data(f"{p}{i}", owner.account_id, requestParameters={"blob": "a" * 600_000}))
        for i in range(2)
    ]
    expect_error("ValidationException", 400, ctd.put_audit_events, channelArn=integ.channel_arn, auditEvents=events)
    assert _stored_uids(ct, integ.eds_id, p) == []


def test_duplicated_audit_event_id(ctd, ct, integ, owner):
    """PAE-01: two entries with the same id fail the whole call; neither is stored."""
    p = f"dup-{uuid.uuid4().hex[:8]}-"
    events = [audit_event("a1", event_data(p + "1", owner.account_id)),
              audit_event("a1", event_data(p + "2", owner.account_id))]
    expect_error("DuplicatedAuditEventId", 400, ctd.put_audit_events, channelArn=integ.channel_arn, auditEvents=events)
    assert _stored_uids(ct, integ.eds_id, p) == []


def test_duplicate_uid_with_distinct_ids_is_not_an_error(ctd, ct, integ, owner):
    uid = _uid()
    events = [audit_event("a1", event_data(uid, owner.account_id)), audit_event("a2", event_data(uid, owner.account_id))]
    resp = ctd.put_audit_events(channelArn=integ.channel_arn, auditEvents=events)
    ok, bad = assert_partition(resp, ["a1", "a2"])
    assert bad == {} and len(set(ok.values())) == 2
    assert _stored_uids(ct, integ.eds_id, uid) == [uid, uid]


# ------------------------------------------------------------------------------------------------
# request-level errors: channel ARN


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:cloudtrail:us-east-1:{acct}:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE",
        "arn:aws:cloudtrail:us-east-1:{acct}:channel",
        "arn:aws:s3:::amzn-s3-demo-bucket",
        "not-an-arn",
    ],
    ids=["eventdatastore-arn", "channel-without-id", "s3-arn", "not-an-arn"],
)
def test_invalid_channel_arn(server, ctd, integ, owner, arn):
    """PAE-06."""
    arn = arn.format(acct=owner.account_id)
    uid = _uid()
    events = [audit_event("a1", event_data(uid, owner.account_id))]
    expect_error("InvalidChannelARN", 400, ctd.put_audit_events, channelArn=arn, auditEvents=events)
    r = raw_put_audit_events(server.endpoint, owner, arn, {"auditEvents": events})
    assert_rest_json_error(r, "InvalidChannelARN")


def test_channel_not_found(server, ct, ctd, integ, owner):
    """PAE-07: a well-formed ARN of a channel that does not exist (never created, or deleted)."""
    events = [audit_event("a1", event_data(_uid(), owner.account_id))]
    unknown = f"arn:aws:cloudtrail:us-east-1:{owner.account_id}:channel/00000000-0000-0000-0000-000000000000"
    expect_error("ChannelNotFound", 400, ctd.put_audit_events, channelArn=unknown, auditEvents=events)
    expect_error("ChannelNotFound", 400, ctd.put_audit_events, channelArn=str(uuid.uuid4()), auditEvents=events)
    ct.delete_channel(Channel=integ.channel_arn)
    expect_error("ChannelNotFound", 400, ctd.put_audit_events, channelArn=integ.channel_arn, auditEvents=events)
    r = raw_put_audit_events(server.endpoint, owner, unknown, {"auditEvents": events})
    assert_rest_json_error(r, "ChannelNotFound")


def test_error_wire_format(server, owner, integ):
    """restJson1 errors: HTTP 400, application/json, x-amzn-RequestId, x-amzn-ErrorType, body {"__type","message"}."""
    r = raw_put_audit_events(server.endpoint, owner, "not-an-arn",
                             {"auditEvents": [audit_event("a1", event_data(_uid(), owner.account_id))]})
    body = assert_rest_json_error(r, "InvalidChannelARN")
    assert set(body) >= {"__type", "message"}
    assert r.headers.get("content-type", "").startswith("application/json")
    assert r.headers.get("x-amzn-requestid")
    assert r.headers.get("x-amzn-errortype", "").split(":")[0] == "InvalidChannelARN"


def test_success_wire_format(server, owner, integ):
    r = raw_put_audit_events(server.endpoint, owner, integ.channel_arn,
                             {"auditEvents": [audit_event("a1", event_data(_uid(), owner.account_id))]})
    assert r.status == 200, r.body
    assert r.headers.get("content-type", "").startswith("application/json")
    assert r.headers.get("x-amzn-requestid")
    body = r.json()
    assert body["failed"] == [] and [e["id"] for e in body["successful"]] == ["a1"]


def test_channel_unsupported_schema(ct, ctd, integ, owner):
    """The channel's destination store no longer takes ActivityAuditLog events."""
    ok = ctd.put_audit_events(channelArn=integ.channel_arn,
                              auditEvents=[audit_event("a1", event_data(_uid(), owner.account_id))])
    assert ok["failed"] == []
    ct.update_event_data_store(EventDataStore=integ.eds_arn, AdvancedEventSelectors=MANAGEMENT_SELECTORS)
    expect_error("ChannelUnsupportedSchema", 400, ctd.put_audit_events, channelArn=integ.channel_arn,
                 auditEvents=[audit_event("a2", event_data(_uid(), owner.account_id))])


# ------------------------------------------------------------------------------------------------
# request-level validation


def test_missing_channel_arn(server, owner, integ):
    events = [audit_event("a1", event_data(_uid(), owner.account_id))]
    r = raw_put_audit_events(server.endpoint, owner, None, {"auditEvents": events})
    assert_rest_json_error(r, "ValidationException")
    ctd = server.ctd(owner, parameter_validation=False)
    expect_error("ValidationException", 400, ctd.put_audit_events, auditEvents=events)


@pytest.mark.parametrize("bad_id", ["bad id!", "a/b", "x" * 129, ""], ids=["space-bang", "slash", "129-chars", "empty"])
def test_bad_entry_id(server, owner, integ, ct, bad_id):
    uid = _uid()
    ctd = server.ctd(owner, parameter_validation=False)
    events = [audit_event("good", event_data(uid + "-g", owner.account_id)), audit_event(bad_id, event_data(uid, owner.account_id))]
    expect_error("ValidationException", 400, ctd.put_audit_events, channelArn=integ.channel_arn, auditEvents=events)
    assert _stored_uids(ct, integ.eds_id, uid) == []


def test_entry_id_at_limits_ok(ctd, integ, owner):
    ids = ["x" * 128, "A-z_0-9", "1"]
    resp = ctd.put_audit_events(channelArn=integ.channel_arn,
                                auditEvents=[audit_event(i, event_data(_uid(), owner.account_id)) for i in ids])
    ok, bad = assert_partition(resp, ids)
    assert bad == {}


@pytest.mark.parametrize("ext", ["x", "has space", "q" * 1225, "semi;colon"], ids=["1-char", "space", "1225-chars", "semicolon"])
def test_bad_external_id(server, owner, integ, ext):
    ctd = server.ctd(owner, parameter_validation=False)
    events = [audit_event("a1", event_data(_uid(), owner.account_id))]
    expect_error("ValidationException", 400, ctd.put_audit_events, channelArn=integ.channel_arn,
                 externalId=ext, auditEvents=events)


def test_malformed_request_bodies(server, owner, integ):
    ev = audit_event("a1", event_data(_uid(), owner.account_id))
    for body in (b"{}", b"not json", json.dumps({"auditEvents": [{"id": "a1"}]}).encode(),
                 json.dumps({"auditEvents": [{"eventData": ev["eventData"]}]}).encode(),
                 json.dumps({"auditEvents": "nope"}).encode()):
        r = raw_put_audit_events(server.endpoint, owner, integ.channel_arn, body)
        assert r.status == 400, (body[:80], r.status, r.body)
        err = r.json()
        assert "__type" in err and err.get("message"), err


# ------------------------------------------------------------------------------------------------
# per-event failures (HTTP 200, entries in `failed`, good events of the same request stored)


def _put_and_check(ctd, ct, integ, owner, cases: dict[str, tuple[str, set[str] | None]]):
    """cases: id -> (eventData, expected codes or None for success). Adds a control event; checks storage by UID."""
    ids = list(cases)
    resp = ctd.put_audit_events(channelArn=integ.channel_arn,
                                auditEvents=[audit_event(i, d) for i, (d, _) in cases.items()])
    ok, bad = assert_partition(resp, ids)
    for i, (_, codes) in cases.items():
        if codes is None:
            assert i in ok, f"{i} should succeed, failed with {bad.get(i)}"
        else:
            assert i in bad, f"{i} should fail with {sorted(codes)}, but succeeded"
            assert bad[i]["errorCode"] in codes, f"{i}: expected {sorted(codes)}, got {bad[i]}"
    return ok, bad


def test_invalid_data(ctd, ct, integ, owner):
    """PAE-03 plus wrong JSON types, in a mixed batch: only the good event is stored."""
    p = f"inv-{uuid.uuid4().hex[:8]}-"
    acct = owner.account_id
    cases = {
        "ok1": (event_data(p + "ok1", acct), None),
        "bad1": ('{"version":"1.0","userIdentity":', {"InvalidData"}),
        "bad2": ("not json at all", {"InvalidData"}),
        "arr": ("[]", {"InvalidData"}),
        "str": ('"just a string"', {"InvalidData"}),
        "null": ("null", {"InvalidData"}),
        "vnum": (event_data(p + "vnum", acct, version=1), {"InvalidData"}),
        "enum": (event_data(p + "enum", acct, eventName=123), {"InvalidData"}),
        "uistr": (event_data(p + "uistr", acct, userIdentity="alice"), {"InvalidData"}),
        "rparr": (event_data(p + "rparr", acct, requestParameters=[1, 2]), {"InvalidData"}),
    }
    ok, bad = _put_and_check(ctd, ct, integ, owner, cases)
    for i in ("bad1", "bad2"):
        assert bad[i]["errorMessage"], bad[i]
    assert _stored_uids(ct, integ.eds_id, p) == [p + "ok1"]


REQUIRED = ["version", "userIdentity", "userIdentity.type", "userIdentity.principalId", "eventSource", "eventName",
            "eventTime", "UID", "recipientAccountId"]


def test_field_not_found(ctd, ct, integ, owner):
    """PAE-04: each required field missing on its own → FieldNotFound naming the field."""
    p = f"fnf-{uuid.uuid4().hex[:8]}-"
    acct = owner.account_id
    cases = {"control": (event_data(p + "control", acct), None)}
    for n, field in enumerate(REQUIRED):
        uid = p + f"m{n}"
        # When UID itself is removed the event cannot be found by UID anyway; that is fine.
        cases[f"m{n}"] = (event_data(uid, acct, {field: DELETE}), {"FieldNotFound"})
    # The Kong-shaped payload: eventVersion instead of version, UUID instead of UID.
    kong = json.loads(event_data(p + "kong", acct))
    kong["eventVersion"] = kong.pop("version")
    kong["UUID"] = kong.pop("UID")
    cases["kong"] = (json.dumps(kong), {"FieldNotFound"})
    ok, bad = _put_and_check(ctd, ct, integ, owner, cases)
    for n, field in enumerate(REQUIRED):
        leaf = field.split(".")[-1]
        assert leaf.lower() in bad[f"m{n}"]["errorMessage"].lower(), f"message should name {field}: {bad[f'm{n}']}"
    assert _stored_uids(ct, integ.eds_id, p) == [p + "control"]


LIMITS = {
    "version": 256,
    "userIdentity.type": 128,
    "userIdentity.principalId": 1024,
    "userAgent": 1024,
    "eventSource": 1024,
    "eventName": 1024,
    "UID": 1024,
    "errorCode": 256,
    "errorMessage": 256,
}


def test_field_lengths_at_limit_are_accepted(ctd, ct, integ, owner):
    p = f"lim-{uuid.uuid4().hex[:8]}-"
    acct = owner.account_id
    cases = {}
    for n, (field, limit) in enumerate(LIMITS.items()):
        if field == "UID":
            uid = p + "u" * (limit - len(p))
            cases[f"ok{n}"] = (event_data(uid, acct), None)
        else:
            cases[f"ok{n}"] = (event_data(p + f"ok{n}", acct, {field: "a" * limit}), None)
    cases["rp"] = (event_data(p + "rp", acct, requestParameters={"k": "a" * 90_000}), None)
    cases["re"] = (event_data(p + "re", acct, responseElements={"k": "a" * 90_000}), None)
    cases["ad"] = (event_data(p + "ad", acct, additionalEventData={"k": "a" * 25_000}), None)
    _put_and_check(ctd, ct, integ, owner, cases)
    assert len(_stored_uids(ct, integ.eds_id, p)) == len(cases)


def test_field_too_long(ctd, ct, integ, owner):
    """PAE-04: one character over each limit (SPEC §4) → FieldTooLong; a control event in the same call is stored."""
    p = f"ftl-{uuid.uuid4().hex[:8]}-"
    acct = owner.account_id
    cases = {"control": (event_data(p + "control", acct), None)}
    for n, (field, limit) in enumerate(LIMITS.items()):
        if field == "UID":
            cases[f"t{n}"] = (event_data(p + "u" * (limit + 1 - len(p)), acct), {"FieldTooLong"})
        else:
            cases[f"t{n}"] = (event_data(p + f"t{n}", acct, {field: "a" * (limit + 1)}), {"FieldTooLong"})
    cases["rp"] = (event_data(p + "rp", acct, requestParameters={"k": "a" * 102_401}), {"FieldTooLong"})
    cases["re"] = (event_data(p + "re", acct, responseElements={"k": "a" * 102_401}), {"FieldTooLong"})
    cases["ad"] = (event_data(p + "ad", acct, additionalEventData={"k": "a" * 28_673}), {"FieldTooLong"})
    ok, bad = _put_and_check(ctd, ct, integ, owner, cases)
    assert _stored_uids(ct, integ.eds_id, p) == [p + "control"]


def test_checksums(ctd, ct, integ, owner):
    """PAE-05: base64 SHA-256 over the exact UTF-8 bytes of eventData."""
    p = f"ck-{uuid.uuid4().hex[:8]}-"
    acct = owner.account_id
    good = event_data(p + "c1", acct)
    nl = event_data(p + "c2", acct)
    hexd = event_data(p + "c3", acct)
    ed2 = event_data(p + "c4", acct, {"userIdentity.principalId": "josé@example.com",
                                      "userIdentity.details": {"displayName": "José Müller 日本"}})
    ed2b = event_data(p + "c5", acct, {"userIdentity.principalId": "josé@example.com"})
    escaped_form = json.dumps(json.loads(ed2b), separators=(",", ":"), ensure_ascii=True)
    assert escaped_form != ed2b
    events = [
        {"id": "c1", "eventData": good, "eventDataChecksum": checksum(good)},
        {"id": "c2", "eventData": nl, "eventDataChecksum": checksum(nl + "\n")},
        {"id": "c3", "eventData": hexd, "eventDataChecksum": hashlib.sha256(hexd.encode()).hexdigest()},
        {"id": "c4", "eventData": ed2, "eventDataChecksum": checksum(ed2)},
        {"id": "c5", "eventData": ed2b, "eventDataChecksum": checksum(escaped_form)},
        {"id": "c6", "eventData": event_data(p + "c6", acct),
         "eventDataChecksum": base64.b64encode(b"\x00" * 32).decode()},
    ]
    resp = ctd.put_audit_events(channelArn=integ.channel_arn, auditEvents=events)
    ok, bad = assert_partition(resp, [e["id"] for e in events])
    assert set(ok) == {"c1", "c4"}, (ok, bad)
    for i in ("c2", "c3", "c5", "c6"):
        assert bad[i]["errorCode"] == "InvalidChecksum", bad[i]
    assert _stored_uids(ct, integ.eds_id, p) == [p + "c1", p + "c4"]
    r = run_query(ct, f"SELECT eventData.userIdentity.principalId FROM {integ.eds_id} WHERE eventData.uid = '{p}c4'")
    assert r.column("principalId") == ["josé@example.com"]


def test_invalid_recipient(ctd, ct, integ, owner, partner):
    p = f"rcp-{uuid.uuid4().hex[:8]}-"
    cases = {
        "ok": (event_data(p + "ok", owner.account_id), None),
        "r1": (event_data(p + "r1", "444455556666"), {"InvalidRecipient"}),
        "r2": (event_data(p + "r2", partner.account_id), {"InvalidRecipient"}),
    }
    ok, bad = _put_and_check(ctd, ct, integ, owner, cases)
    assert owner.account_id in bad["r1"]["errorMessage"] or "444455556666" in bad["r1"]["errorMessage"], bad["r1"]
    assert _stored_uids(ct, integ.eds_id, p) == [p + "ok"]


def test_mixed_batch_every_code(ctd, ct, integ, owner):
    """One request with one event per failure code and two good ones: good stored, bad not, ids partitioned."""
    p = f"mix-{uuid.uuid4().hex[:8]}-"
    acct = owner.account_id
    bad_sum = event_data(p + "cs", acct)
    events = [
        audit_event("good1", event_data(p + "good1", acct), True),
        {"id": "invalid-data", "eventData": "{oops"},
        audit_event("not-found", event_data(p + "nf", acct, eventName=DELETE)),
        audit_event("too-long", event_data(p + "tl", acct, eventName="n" * 1025)),
        {"id": "checksum", "eventData": bad_sum, "eventDataChecksum": checksum(bad_sum + " ")},
        audit_event("recipient", event_data(p + "rc", "444455556666")),
        audit_event("good2", event_data(p + "good2", acct)),
    ]
    resp = ctd.put_audit_events(channelArn=integ.channel_arn, auditEvents=events)
    ok, bad = assert_partition(resp, [e["id"] for e in events])
    assert set(ok) == {"good1", "good2"}
    assert {k: v["errorCode"] for k, v in bad.items()} == {
        "invalid-data": "InvalidData",
        "not-found": "FieldNotFound",
        "too-long": "FieldTooLong",
        "checksum": "InvalidChecksum",
        "recipient": "InvalidRecipient",
    }
    assert _stored_uids(ct, integ.eds_id, p) == [p + "good1", p + "good2"]
    assert count_rows(ct, integ.eds_id, f"WHERE eventData.uid LIKE '{p}%'") == 2


# ------------------------------------------------------------------------------------------------
# IngestionStatus


def test_ingestion_status(ct, ctd, integ, owner):
    st = ct.get_channel(Channel=integ.channel_arn).get("IngestionStatus", {})
    assert not st.get("LatestIngestionSuccessEventID"), f"fresh channel has no ingestion yet: {st}"

    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    resp = ctd.put_audit_events(channelArn=integ.channel_arn, auditEvents=[
        audit_event("s1", event_data(_uid(), owner.account_id)), audit_event("s2", event_data(_uid(), owner.account_id))])
    ok, _ = assert_partition(resp, ["s1", "s2"])
    st = ct.get_channel(Channel=integ.channel_id)["IngestionStatus"]
    assert st["LatestIngestionSuccessEventID"] in set(ok.values()), st
    assert isinstance(st["LatestIngestionSuccessTime"], dt.datetime)
    assert st["LatestIngestionSuccessTime"] >= before
    assert st["LatestIngestionAttemptTime"] >= st["LatestIngestionSuccessTime"] - dt.timedelta(seconds=1)
    assert st.get("LatestIngestionAttemptEventID")
    success_time = st["LatestIngestionSuccessTime"]

    bad = event_data(_uid(), owner.account_id)
    resp = ctd.put_audit_events(channelArn=integ.channel_arn,
                                auditEvents=[{"id": "f1", "eventData": bad, "eventDataChecksum": checksum(bad + "x")}])
    assert [f["errorCode"] for f in resp["failed"]] == ["InvalidChecksum"]
    st2 = ct.get_channel(Channel=integ.channel_arn)["IngestionStatus"]
    assert st2["LatestIngestionErrorCode"] == "InvalidChecksum", st2
    assert st2["LatestIngestionAttemptTime"] >= st["LatestIngestionAttemptTime"]
    assert st2["LatestIngestionSuccessTime"] == success_time
    assert st2["LatestIngestionSuccessEventID"] == st["LatestIngestionSuccessEventID"]
