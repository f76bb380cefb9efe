"""Cairn records its own API calls as CloudTrail events (management events; PutAuditEvents as data events on the
channel), delivered to the event data stores whose advanced event selectors take them, and queryable with SQL;
management events are also in the account's event history, which LookupEvents reads.

Records are written by a background writer a moment after each call, so the tests poll with a query until the
calls they made show up.
"""

from __future__ import annotations

import time
import uuid

import datetime
import json

from cairn_e2e import (
    MANAGEMENT_SELECTORS,
    Creds,
    audit_event,
    event_data,
    expect_error,
    run_aws,
    run_query,
    setup_integration,
)

CHANNEL_DATA_SELECTORS = [
    {
        "Name": "channel writes",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::CloudTrail::Channel"]},
        ],
    }
]


def rows_until(ct, sql: str, done, timeout: float = 20.0) -> list[dict[str, str]]:
    """Runs `sql` until `done(rows)` holds (the audit writer is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = run_query(ct, sql).dicts()
        if done(rows):
            return rows
        assert time.monotonic() < deadline, f"after {timeout}s, {sql!r} gave {rows}"
        time.sleep(0.2)


def new_store(ct, selectors=None, **kw) -> str:
    args = {"Name": f"audit-{uuid.uuid4().hex[:8]}", **kw}
    if selectors is not None:
        args["AdvancedEventSelectors"] = selectors
    return ct.create_event_data_store(**args)["EventDataStoreArn"].rsplit("/", 1)[-1]


def test_allowed_and_denied_calls_are_recorded_with_the_callers_identity(server, owner):
    ct = server.ct(owner)
    eds = new_store(ct)  # no selectors: all management events
    ct.list_channels()
    missing = f"arn:aws:cloudtrail:us-east-1:{owner.account_id}:channel/{uuid.uuid4()}"
    expect_error("ChannelNotFoundException", 404, ct.get_channel, Channel=missing)
    iam = server.client("iam", owner)
    user = f"reader-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = server.ct(Creds(owner.account_id, key["AccessKeyId"], key["SecretAccessKey"]))
    expect_error("AccessDeniedException", 403, as_user.list_event_data_stores)

    sql = (
        "SELECT eventSource, eventName, errorCode, userIdentity.type, userIdentity.arn, userIdentity.userName, "
        "userIdentity.accessKeyId, awsRegion, readOnly, recipientAccountId, eventCategory, managementEvent, "
        f"requestParameters['userName'] AS requestedUser FROM {eds} "
        "WHERE eventName IN ('CreateEventDataStore', 'ListChannels', 'GetChannel', 'CreateUser', 'CreateAccessKey', "
        "'ListEventDataStores') ORDER BY eventTime, eventName"
    )
    rows = rows_until(ct, sql, lambda rows: len(rows) >= 6)
    by_name = {r["eventName"]: r for r in rows}
    assert set(by_name) == {"CreateEventDataStore", "ListChannels", "GetChannel", "CreateUser", "CreateAccessKey",
                            "ListEventDataStores"}, rows
    root = by_name["ListChannels"]
    assert root["eventSource"] == "cloudtrail.amazonaws.com"
    assert root["type"] == "Root" and root["arn"] == owner.root_arn
    assert root["accessKeyId"] == owner.access_key_id
    assert root["readOnly"] == "true" and root["errorCode"] == ""
    assert root["recipientAccountId"] == owner.account_id
    assert root["eventCategory"] == "Management" and root["managementEvent"] == "true"
    assert by_name["GetChannel"]["errorCode"] == "ChannelNotFoundException"
    assert by_name["CreateEventDataStore"]["readOnly"] == "false"
    created = by_name["CreateUser"]
    assert created["eventSource"] == "iam.amazonaws.com" and created["awsRegion"] == "us-east-1"
    assert created["requestedUser"] == user
    denied = by_name["ListEventDataStores"]
    assert denied["errorCode"] == "AccessDeniedException", denied
    assert denied["type"] == "IAMUser" and denied["userName"] == user
    assert denied["arn"] == f"arn:aws:iam::{owner.account_id}:user/{user}"
    assert denied["accessKeyId"] == key["AccessKeyId"]

    # The response of a call that changes something is recorded; secrets never are.
    r = run_query(ct, f"SELECT responseElements['eventDataStoreArn'] AS arn, userAgent, sourceIPAddress, eventID, "
                      f"requestID FROM {eds} WHERE eventName = 'CreateEventDataStore'").dicts()
    assert r[0]["arn"].endswith(f"/{eds}"), r
    assert "Boto3" in r[0]["userAgent"] or "botocore" in r[0]["userAgent"], r
    assert r[0]["sourceIPAddress"] == "127.0.0.1"
    # IAM's (XML) responses too: the user created, the access key without its secret.
    r = run_query(ct, f"SELECT eventName, responseElements['user'] AS u, responseElements['accessKey'] AS k FROM {eds} "
                      "WHERE eventName IN ('CreateUser', 'CreateAccessKey') ORDER BY eventName").dicts()
    assert [x["eventName"] for x in r] == ["CreateAccessKey", "CreateUser"], r
    made = json.loads(r[1]["u"])
    assert made["userName"] == user and made["arn"] == f"arn:aws:iam::{owner.account_id}:user/{user}", made
    access_key = json.loads(r[0]["k"])
    assert access_key["accessKeyId"] == key["AccessKeyId"] and access_key["userName"] == user, access_key
    assert access_key["secretAccessKey"] == "HIDDEN_DUE_TO_SECURITY_REASONS", access_key
    everything = run_query(ct, f"SELECT eventName, requestParameters, responseElements FROM {eds}").rows
    assert key["SecretAccessKey"] not in repr(everything)
    assert owner.secret_access_key not in repr(everything)


def test_denied_put_audit_events_reach_the_channel_owner_with_the_caller(server, owner, partner):
    ct = server.ct(owner)
    integ = setup_integration(ct, owner)
    writes = new_store(ct, CHANNEL_DATA_SELECTORS)
    management = new_store(ct)
    # Naming a channel that does not exist in the owner's account puts nothing in the owner's stores (anyone can
    # write any account id in an ARN). Sent first: the audit writer keeps the order of calls.
    expect_error("ChannelNotFound", 400, server.ctd(partner).put_audit_events,
                 channelArn=f"arn:aws:cloudtrail:us-east-1:{owner.account_id}:channel/{uuid.uuid4()}",
                 auditEvents=[audit_event("x", event_data(str(uuid.uuid4()), owner.account_id))])
    data = event_data(str(uuid.uuid4()), owner.account_id)
    ok = server.ctd(owner).put_audit_events(channelArn=integ.channel_arn, auditEvents=[audit_event("a", data)])
    assert len(ok["successful"]) == 1
    e = expect_error("ChannelInsufficientPermission", 400, server.ctd(partner).put_audit_events,
                     channelArn=integ.channel_arn, externalId="guess-1234",
                     auditEvents=[audit_event("b", event_data(str(uuid.uuid4()), owner.account_id))])

    # The query of the closing note: who was denied on which channel.
    sql = (
        "SELECT eventTime, userIdentity.arn AS caller, userIdentity.accountId AS callerAccount, sourceIPAddress, "
        f"resources[1].ARN AS channel, errorCode, errorMessage FROM {writes} "
        "WHERE eventName = 'PutAuditEvents' AND errorCode IS NOT NULL ORDER BY eventTime DESC"
    )
    denied = rows_until(ct, sql, lambda rows: len(rows) >= 1)
    assert len(denied) == 1, denied
    d = denied[0]
    assert d["caller"] == partner.root_arn and d["callerAccount"] == partner.account_id
    assert d["channel"] == integ.channel_arn
    assert d["errorCode"] == "ChannelInsufficientPermission"
    assert d["errorMessage"] == e.response["Error"]["Message"]
    every = rows_until(ct, f"SELECT errorCode, requestParameters['externalId'] AS ext, recipientAccountId, "
                           f"eventCategory, managementEvent, readOnly FROM {writes} "
                           f"WHERE eventName = 'PutAuditEvents' ORDER BY eventTime",
                       lambda rows: len(rows) >= 2)
    assert sorted(r["errorCode"] for r in every) == ["", "ChannelInsufficientPermission"]
    assert {r["recipientAccountId"] for r in every} == {owner.account_id}
    assert {(r["eventCategory"], r["managementEvent"], r["readOnly"]) for r in every} == {("Data", "false", "false")}
    # The external id a caller sent is a secret.
    assert "guess-1234" not in repr(every)
    assert "HIDDEN_DUE_TO_SECURITY_REASONS" in {r["ext"] for r in every}

    # Data events stay out of a management-events store, and control-plane calls out of the data store.
    assert run_query(ct, f"SELECT COUNT(*) AS n FROM {management} WHERE eventName = 'PutAuditEvents'").dicts() == [{"n": "0"}]
    assert run_query(ct, f"SELECT COUNT(*) AS n FROM {writes} WHERE eventCategory = 'Management'").dicts() == [{"n": "0"}]
    # The integration store holds only the integration event.
    assert run_query(ct, f"SELECT COUNT(*) AS n FROM {integ.eds_id}").dicts() == [{"n": "1"}]


def test_selectors_choose_what_a_store_records(server, owner):
    ct = server.ct(owner)
    writes_only = new_store(ct, [{"Name": "writes", "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Management"]},
        {"Field": "readOnly", "Equals": ["false"]},
    ]}])
    iam_only = new_store(ct, [{"Name": "iam", "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Management"]},
        {"Field": "eventSource", "Equals": ["iam.amazonaws.com"]},
    ]}])
    everything = new_store(ct, MANAGEMENT_SELECTORS)
    ct.list_channels()
    server.client("iam", owner).create_user(UserName=f"u-{uuid.uuid4().hex[:6]}")
    sql = "SELECT eventName FROM {} WHERE eventName IN ('ListChannels', 'CreateUser') ORDER BY eventName"
    assert [r["eventName"] for r in rows_until(ct, sql.format(everything), lambda r: len(r) >= 2)] == [
        "CreateUser", "ListChannels"]
    assert [r["eventName"] for r in run_query(ct, sql.format(writes_only)).dicts()] == ["CreateUser"]
    assert [r["eventName"] for r in run_query(ct, sql.format(iam_only)).dicts()] == ["CreateUser"]


def test_a_store_that_stopped_ingestion_records_nothing_until_started(server, owner):
    ct = server.ct(owner)
    eds = new_store(ct)
    arn = f"arn:aws:cloudtrail:us-east-1:{owner.account_id}:eventdatastore/{eds}"
    ct.stop_event_data_store_ingestion(EventDataStore=arn)
    marker = str(uuid.uuid4())
    expect_error("ChannelNotFoundException", 404, ct.get_channel, Channel=marker)
    ct.start_event_data_store_ingestion(EventDataStore=arn)
    after = str(uuid.uuid4())
    expect_error("ChannelNotFoundException", 404, ct.get_channel, Channel=after)
    sql = f"SELECT requestParameters['channel'] AS channel FROM {eds} WHERE eventName = 'GetChannel'"
    rows = rows_until(ct, sql, lambda r: len(r) >= 1)
    time.sleep(0.5)
    assert [r["channel"] for r in run_query(ct, sql).dicts()] == [after], rows


def test_invalid_selectors_are_refused(server, owner):
    ct = server.ct(owner)
    for selectors in (
        [{"Name": "x", "FieldSelectors": [{"Field": "noSuchField", "Equals": ["x"]}]}],
        [{"Name": "x", "FieldSelectors": [{"Field": "eventCategory", "StartsWith": ["Man"]}]}],
        [{"Name": "x", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["ActivityAuditLog"]}]},
         {"Name": "y", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}],
    ):
        expect_error(("InvalidEventSelectorsException", "InvalidParameterException"), 400,
                     ct.create_event_data_store, Name=f"bad-{uuid.uuid4().hex[:6]}", AdvancedEventSelectors=selectors)


def lookup_until(ct, done, timeout: float = 20.0, **kw) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        events = ct.lookup_events(**kw)["Events"]
        if done(events):
            return events
        assert time.monotonic() < deadline, f"after {timeout}s, lookup_events({kw}) gave {events}"
        time.sleep(0.2)


def test_lookup_events_reads_the_accounts_management_history(server, owner, partner):
    ct = server.ct(owner)
    iam = server.client("iam", owner)
    user = f"looker-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = server.ct(Creds(owner.account_id, key["AccessKeyId"], key["SecretAccessKey"]))
    expect_error("AccessDeniedException", 403, as_user.list_channels)
    for _ in range(3):
        ct.list_event_data_stores()
    server.ct(partner).list_channels()  # another account's history

    mine = lookup_until(ct, lambda ev: any(e["EventName"] == "ListChannels" for e in ev),
                        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": user}])
    assert [e["EventName"] for e in mine] == ["ListChannels"], mine
    denied = json.loads(mine[0]["CloudTrailEvent"])
    assert denied["errorCode"] == "AccessDeniedException"
    assert denied["userIdentity"]["userName"] == user
    assert mine[0]["AccessKeyId"] == key["AccessKeyId"] and mine[0]["ReadOnly"] == "true"
    assert mine[0]["EventSource"] == "cloudtrail.amazonaws.com" and mine[0]["Username"] == user
    assert isinstance(mine[0]["EventTime"], datetime.datetime)

    # Newest first, paged with NextToken, no repeats.
    lists = lookup_until(ct, lambda ev: len(ev) >= 3,
                         LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ListEventDataStores"}])
    assert len(lists) == 3
    times = [e["EventTime"] for e in lists]
    assert times == sorted(times, reverse=True)
    seen, token = [], None
    while True:
        kw = {"MaxResults": 1, "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "ListEventDataStores"}]}
        if token:
            kw["NextToken"] = token
        page = ct.lookup_events(**kw)
        assert len(page["Events"]) <= 1
        seen += [e["EventId"] for e in page["Events"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [e["EventId"] for e in lists]
    by_id = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": seen[1]}])["Events"]
    assert [e["EventId"] for e in by_id] == [seen[1]]

    # The user's events are the owner account's, never the partner's; a time range before them finds nothing.
    assert not ct.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "root"}],
                                EndTime=datetime.datetime(2020, 1, 1))["Events"]
    partner_events = server.ct(partner).lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": user}])["Events"]
    assert partner_events == []
    writes = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}])["Events"]
    assert {"CreateUser", "CreateAccessKey"} <= {e["EventName"] for e in writes}
    assert all(e["ReadOnly"] == "false" for e in writes)

    # Resources the calls named: by name or ARN, and by type.
    named = lookup_until(ct, lambda ev: len(ev) >= 2,
                         LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": user}])
    assert {e["EventName"] for e in named} == {"CreateUser", "CreateAccessKey"}, named
    assert named[0]["Resources"] == [{"ResourceType": "AWS::IAM::User",
                                      "ResourceName": f"arn:aws:iam::{owner.account_id}:user/{user}"}]
    by_arn = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName",
                                                 "AttributeValue": f"arn:aws:iam::{owner.account_id}:user/{user}"}])
    assert {e["EventId"] for e in by_arn["Events"]} == {e["EventId"] for e in named}
    users = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceType", "AttributeValue": "AWS::IAM::User"}])
    assert {"CreateUser", "CreateAccessKey"} <= {e["EventName"] for e in users["Events"]}

    # The AWS CLI, as users run it.
    r = run_aws(server.endpoint, ["cloudtrail", "lookup-events", "--lookup-attributes",
                                  f"AttributeKey=Username,AttributeValue={user}", "--max-results", "5"], creds=owner)
    assert r.rc == 0, r.display
    assert [e["EventName"] for e in r.out["Events"]] == ["ListChannels"]

    # Bad input: two attributes, an inverted time range, a foreign token, MaxResults out of range.
    expect_error("InvalidLookupAttributesException", 400, ct.lookup_events, LookupAttributes=[
        {"AttributeKey": "Username", "AttributeValue": "a"}, {"AttributeKey": "EventName", "AttributeValue": "b"}])
    expect_error("InvalidTimeRangeException", 400, ct.lookup_events,
                 StartTime=datetime.datetime(2026, 2, 1), EndTime=datetime.datetime(2026, 1, 1))
    expect_error("InvalidNextTokenException", 400, ct.lookup_events, NextToken="not-a-token")
    expect_error(("InvalidMaxResultsException", "InvalidParameterException"), 400, ct.lookup_events, MaxResults=51)
    r = run_aws(server.endpoint, ["cloudtrail", "lookup-events", "--lookup-attributes",
                                  "AttributeKey=NoSuchKey,AttributeValue=x"], creds=owner)
    assert r.rc != 0, r.display
    # A user without cloudtrail:LookupEvents is refused.
    expect_error("AccessDeniedException", 403, as_user.lookup_events)
