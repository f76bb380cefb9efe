"""CloudTrail control plane (awsJson1_1): event data stores, channels, resource policies, accounts."""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import time
import uuid

from cairn_e2e import (
    ACCOUNT_RE,
    CT_TARGET_PREFIX,
    INTEGRATION_SELECTORS,
    MANAGEMENT_SELECTORS,
    SMITHY_TARGET_PREFIX,
    create_account,
    create_channel,
    create_integration_eds,
    expect_error,
    raw_cloudtrail,
    run_aws,
)

EDS_ARN_RE = re.compile(r"^arn:aws:cloudtrail:us-east-1:(\d{12}):eventdatastore/([0-9a-f-]{36})$")
CHAN_ARN_RE = re.compile(r"^arn:aws:cloudtrail:us-east-1:(\d{12}):channel/([0-9a-f-]{36})$")
VALIDATION = {"InvalidParameterException", "ValidationException"}


def _now():
    return dt.datetime.now(dt.timezone.utc)


def _id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


# ------------------------------------------------------------------------------------------------
# accounts and credentials


def test_root_credentials_file(server, root):
    path = server.data_dir / "root-credentials"
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600, f"root-credentials must be mode 0600, is {oct(mode)}"
    text = path.read_text()
    assert text.lstrip().startswith("[default]"), text
    assert ACCOUNT_RE.match(root.account_id), root
    assert root.access_key_id and root.secret_access_key
    # The first start printed them once.
    assert root.access_key_id in server.log_text(), "first start must print the root access key"
    # ... and they work, as the shared-credentials file the AWS tools read.
    server.ct(root).list_channels()


def test_root_credentials_work_with_the_aws_cli(server, root):
    """README: `AWS_SHARED_CREDENTIALS_FILE=DIR/root-credentials aws --endpoint-url … cloudtrail list-channels` just works."""
    r = run_aws(server.endpoint, ["cloudtrail", "list-channels"], credentials_file=server.data_dir / "root-credentials")
    assert r.rc == 0, r.display
    assert "Channels" in r.out
    r = run_aws(server.endpoint, ["cloudtrail", "list-event-data-stores"],
                credentials_file=server.data_dir / "root-credentials")
    assert r.rc == 0 and "EventDataStores" in r.out, r.display


def test_later_start_reuses_default_account(private_server):
    srv = private_server("reuse")
    first = srv.root
    srv.restart()
    assert srv.root == first
    assert first.secret_access_key not in srv.log_text(), "a later start must not print the secret again"
    srv.ct(first).list_event_data_stores()


def test_accounts_create(server, root):
    a = create_account(server.data_dir, "acme-partner")
    b = create_account(server.data_dir, "other-partner")
    for acct in (a, b):
        assert ACCOUNT_RE.match(acct.account_id), acct
        assert acct.access_key_id and acct.secret_access_key
    assert len({root.account_id, a.account_id, b.account_id}) == 3
    assert len({root.access_key_id, a.access_key_id, b.access_key_id}) == 3
    # Usable at once by the running server.
    assert server.ct(a).list_channels()["Channels"] == []


# ------------------------------------------------------------------------------------------------
# event data stores


def test_create_event_data_store_defaults(ct, owner):
    before = _now() - dt.timedelta(minutes=5)
    r = ct.create_event_data_store(Name="my-eds.v1_x", AdvancedEventSelectors=INTEGRATION_SELECTORS)
    m = EDS_ARN_RE.match(r["EventDataStoreArn"])
    assert m, r["EventDataStoreArn"]
    assert m.group(1) == owner.account_id
    assert r["Name"] == "my-eds.v1_x"
    assert r["Status"] in ("CREATED", "ENABLED")
    assert r["AdvancedEventSelectors"] == INTEGRATION_SELECTORS
    assert r["TerminationProtectionEnabled"] is True
    assert r["MultiRegionEnabled"] is True
    assert r["OrganizationEnabled"] is False
    assert r["BillingMode"] == "EXTENDABLE_RETENTION_PRICING"
    assert r["RetentionPeriod"] == 366
    assert isinstance(r["CreatedTimestamp"], dt.datetime)
    assert before <= r["CreatedTimestamp"] <= _now() + dt.timedelta(minutes=5)
    assert isinstance(r["UpdatedTimestamp"], dt.datetime)

    g = ct.get_event_data_store(EventDataStore=r["EventDataStoreArn"])
    assert g["Status"] == "ENABLED"
    for k in ("EventDataStoreArn", "Name", "AdvancedEventSelectors", "TerminationProtectionEnabled",
              "MultiRegionEnabled", "OrganizationEnabled", "RetentionPeriod", "BillingMode", "CreatedTimestamp"):
        assert g[k] == r[k], (k, g[k], r[k])


def test_create_event_data_store_fixed_billing_default_retention(ct):
    r = ct.create_event_data_store(
        Name=f"fixed-{uuid.uuid4().hex[:8]}", AdvancedEventSelectors=INTEGRATION_SELECTORS,
        BillingMode="FIXED_RETENTION_PRICING", TerminationProtectionEnabled=False,
    )
    assert r["BillingMode"] == "FIXED_RETENTION_PRICING"
    assert r["RetentionPeriod"] == 2557
    assert r["TerminationProtectionEnabled"] is False


def test_event_data_store_arn_or_id(ct):
    r = create_integration_eds(ct)
    by_arn = ct.get_event_data_store(EventDataStore=r["EventDataStoreArn"])
    by_id = ct.get_event_data_store(EventDataStore=_id(r["EventDataStoreArn"]))
    by_arn.pop("ResponseMetadata")
    by_id.pop("ResponseMetadata")
    assert by_arn == by_id


def test_event_data_store_errors(ct, owner):
    r = create_integration_eds(ct, name="dup-name")
    expect_error("EventDataStoreAlreadyExistsException", 400, create_integration_eds, ct, name="dup-name")
    unknown = f"arn:aws:cloudtrail:us-east-1:{owner.account_id}:eventdatastore/{uuid.uuid4()}"
    expect_error("EventDataStoreNotFoundException", 404, ct.get_event_data_store, EventDataStore=unknown)
    expect_error("EventDataStoreNotFoundException", 404, ct.get_event_data_store, EventDataStore=str(uuid.uuid4()))
    # A channel ARN is not an event data store ARN.
    chan = f"arn:aws:cloudtrail:us-east-1:{owner.account_id}:channel/{uuid.uuid4()}"
    expect_error("EventDataStoreARNInvalidException", 400, ct.get_event_data_store, EventDataStore=chan)
    # Constraints botocore does not check client-side (max, pattern) reach the server.
    expect_error(VALIDATION, 400, ct.create_event_data_store, Name="bad name!", AdvancedEventSelectors=INTEGRATION_SELECTORS)
    expect_error(VALIDATION, 400, ct.create_event_data_store, Name="x" * 129, AdvancedEventSelectors=INTEGRATION_SELECTORS)
    expect_error(VALIDATION, 400, ct.create_event_data_store, Name=f"r-{uuid.uuid4().hex[:6]}", RetentionPeriod=3654)
    expect_error(VALIDATION, 400, ct.update_event_data_store, EventDataStore=r["EventDataStoreArn"], RetentionPeriod=4000)


def test_event_data_store_min_constraints_reach_server(server, owner):
    """With client-side validation off, the server enforces the model's minimums itself."""
    ct = server.ct(owner, parameter_validation=False)
    expect_error(VALIDATION, 400, ct.create_event_data_store, Name="ab")
    expect_error(VALIDATION, 400, ct.create_event_data_store, Name=f"r-{uuid.uuid4().hex[:6]}", RetentionPeriod=6)


def test_invalid_event_selectors(ct):
    bad = [{"Name": "x", "FieldSelectors": [{"Field": "noSuchField", "Equals": ["x"]}]}]
    expect_error({"InvalidEventSelectorsException", "InvalidParameterException"}, 400,
                 ct.create_event_data_store, Name=f"sel-{uuid.uuid4().hex[:6]}", AdvancedEventSelectors=bad)


def test_list_event_data_stores_paging(ct):
    created = {create_integration_eds(ct)["EventDataStoreArn"] for _ in range(3)}
    seen = []
    token = None
    for _ in range(10):
        kw = {"MaxResults": 1}
        if token:
            kw["NextToken"] = token
        page = ct.list_event_data_stores(**kw)
        assert len(page["EventDataStores"]) <= 1
        for e in page["EventDataStores"]:
            assert set(e) >= {"EventDataStoreArn", "Name"}, e
        seen += [e["EventDataStoreArn"] for e in page["EventDataStores"]]
        token = page.get("NextToken")
        if not token:
            break
        assert len(token) >= 4, f"NextToken must be >= 4 chars (model min): {token!r}"
    assert len(seen) == len(set(seen)), f"duplicates across pages: {seen}"
    assert set(seen) == created
    expect_error("InvalidNextTokenException", 400, ct.list_event_data_stores, NextToken="not-a-real-token")
    expect_error({"InvalidMaxResultsException", "InvalidParameterException", "ValidationException"}, 400,
                 ct.list_event_data_stores, MaxResults=1001)


def test_update_event_data_store(ct):
    r = create_integration_eds(ct)
    arn = r["EventDataStoreArn"]
    u = ct.update_event_data_store(EventDataStore=arn, Name="renamed-eds", RetentionPeriod=90,
                                   TerminationProtectionEnabled=False)
    assert u["EventDataStoreArn"] == arn
    assert u["Name"] == "renamed-eds"
    assert u["RetentionPeriod"] == 90
    assert u["TerminationProtectionEnabled"] is False
    assert u["UpdatedTimestamp"] >= r["CreatedTimestamp"]
    g = ct.get_event_data_store(EventDataStore=_id(arn))
    assert (g["Name"], g["RetentionPeriod"], g["TerminationProtectionEnabled"]) == ("renamed-eds", 90, False)
    # An update that changes nothing is refused.
    expect_error(VALIDATION, 400, ct.update_event_data_store, EventDataStore=arn)


def test_termination_protection_delete_and_restore(ct):
    arn = create_integration_eds(ct)["EventDataStoreArn"]
    e = expect_error("EventDataStoreTerminationProtectedException", 400, ct.delete_event_data_store, EventDataStore=arn)
    assert "termination" in e.response["Error"]["Message"].lower()
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "ENABLED"

    ct.update_event_data_store(EventDataStore=arn, TerminationProtectionEnabled=False)
    ct.delete_event_data_store(EventDataStore=arn)
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "PENDING_DELETION"
    # Deleting again is refused (it is already pending deletion).
    expect_error({"InactiveEventDataStoreException", "InvalidEventDataStoreStatusException"}, 400,
                 ct.delete_event_data_store, EventDataStore=arn)

    restored = ct.restore_event_data_store(EventDataStore=_id(arn))
    assert restored["EventDataStoreArn"] == arn
    assert restored["Status"] == "ENABLED"
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "ENABLED"
    # Restoring an enabled store is refused.
    expect_error("InvalidEventDataStoreStatusException", 400, ct.restore_event_data_store, EventDataStore=arn)


def test_channel_exists_for_eds(ct):
    arn = create_integration_eds(ct, TerminationProtectionEnabled=False)["EventDataStoreArn"]
    chan = create_channel(ct, arn)["ChannelArn"]
    expect_error("ChannelExistsForEDSException", 400, ct.delete_event_data_store, EventDataStore=arn)
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "ENABLED"
    ct.delete_channel(Channel=chan)
    ct.delete_event_data_store(EventDataStore=arn)
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "PENDING_DELETION"


def test_event_data_store_quota(server, make_account):
    acct = make_account()
    ct = server.ct(acct)
    for i in range(10):
        create_integration_eds(ct, name=f"quota-{i}")
    expect_error("EventDataStoreMaxLimitExceededException", 400, create_integration_eds, ct, name="quota-10")


# ------------------------------------------------------------------------------------------------
# channels


def test_channel_lifecycle(ct, owner):
    eds = create_integration_eds(ct)["EventDataStoreArn"]
    c = ct.create_channel(Name="app-channel", Source="Custom",
                          Destinations=[{"Type": "EVENT_DATA_STORE", "Location": eds}],
                          Tags=[{"Key": "team", "Value": "sec"}])
    m = CHAN_ARN_RE.match(c["ChannelArn"])
    assert m and m.group(1) == owner.account_id, c["ChannelArn"]
    assert c["Name"] == "app-channel"
    assert c["Source"] == "Custom"
    assert c["Destinations"] == [{"Type": "EVENT_DATA_STORE", "Location": eds}]

    for ref in (c["ChannelArn"], _id(c["ChannelArn"])):
        g = ct.get_channel(Channel=ref)
        assert g["ChannelArn"] == c["ChannelArn"]
        assert g["Name"] == "app-channel"
        assert g["Source"] == "Custom"
        assert g["Destinations"] == c["Destinations"]
        assert "IngestionStatus" in g

    listed = ct.list_channels()["Channels"]
    assert {"ChannelArn": c["ChannelArn"], "Name": "app-channel"} in listed

    u = ct.update_channel(Channel=_id(c["ChannelArn"]), Name="app-channel-2")
    assert u["ChannelArn"] == c["ChannelArn"] and u["Name"] == "app-channel-2" and u["Source"] == "Custom"
    assert ct.get_channel(Channel=c["ChannelArn"])["Name"] == "app-channel-2"

    eds2 = create_integration_eds(ct)["EventDataStoreArn"]
    u = ct.update_channel(Channel=c["ChannelArn"], Destinations=[{"Type": "EVENT_DATA_STORE", "Location": eds2}])
    assert u["Destinations"] == [{"Type": "EVENT_DATA_STORE", "Location": eds2}]

    ct.delete_channel(Channel=c["ChannelArn"])
    expect_error("ChannelNotFoundException", 404, ct.get_channel, Channel=c["ChannelArn"])
    assert c["ChannelArn"] not in [x["ChannelArn"] for x in ct.list_channels()["Channels"]]
    expect_error("ChannelNotFoundException", 404, ct.delete_channel, Channel=c["ChannelArn"])


def test_channel_destination_by_eds_id(ct):
    eds = create_integration_eds(ct)["EventDataStoreArn"]
    c = ct.create_channel(Name=f"c-{uuid.uuid4().hex[:6]}", Source="Custom",
                          Destinations=[{"Type": "EVENT_DATA_STORE", "Location": _id(eds)}])
    assert CHAN_ARN_RE.match(c["ChannelArn"])


def test_channel_errors(ct, owner):
    eds = create_integration_eds(ct)["EventDataStoreArn"]
    create_channel(ct, eds, name="taken")
    expect_error("ChannelAlreadyExistsException", 400, create_channel, ct, eds, name="taken")
    expect_error("InvalidSourceException", 400, ct.create_channel, Name="c-badsrc", Source="NoSuchPartner",
                 Destinations=[{"Type": "EVENT_DATA_STORE", "Location": eds}])
    mgmt = ct.create_event_data_store(Name=f"mgmt-{uuid.uuid4().hex[:6]}", AdvancedEventSelectors=MANAGEMENT_SELECTORS)
    expect_error("InvalidEventDataStoreCategoryException", 400, create_channel, ct, mgmt["EventDataStoreArn"])
    missing = f"arn:aws:cloudtrail:us-east-1:{owner.account_id}:eventdatastore/{uuid.uuid4()}"
    expect_error("EventDataStoreNotFoundException", 404, create_channel, ct, missing)
    expect_error(VALIDATION, 400, ct.create_channel, Name="bad name!", Source="Custom",
                 Destinations=[{"Type": "EVENT_DATA_STORE", "Location": eds}])
    not_channel = f"arn:aws:cloudtrail:us-east-1:{owner.account_id}:eventdatastore/{uuid.uuid4()}"
    expect_error("ChannelARNInvalidException", 400, ct.get_channel, Channel=not_channel)
    expect_error("ChannelNotFoundException", 404, ct.get_channel,
                 Channel=f"arn:aws:cloudtrail:us-east-1:{owner.account_id}:channel/{uuid.uuid4()}")
    expect_error("ChannelNotFoundException", 404, ct.get_channel, Channel=str(uuid.uuid4()))
    expect_error("ChannelNotFoundException", 404, ct.update_channel, Channel=str(uuid.uuid4()), Name="whatever")


def test_list_channels_paging(ct):
    eds = create_integration_eds(ct)["EventDataStoreArn"]
    created = {create_channel(ct, eds)["ChannelArn"] for _ in range(5)}
    seen, token, pages = [], None, 0
    while True:
        kw = {"MaxResults": 2}
        if token:
            kw["NextToken"] = token
        page = ct.list_channels(**kw)
        pages += 1
        assert len(page["Channels"]) <= 2
        seen += [c["ChannelArn"] for c in page["Channels"]]
        token = page.get("NextToken")
        if not token:
            break
        assert len(token) >= 4
        assert pages < 10
    assert pages == 3
    assert len(seen) == len(set(seen)) and set(seen) == created
    expect_error("InvalidNextTokenException", 400, ct.list_channels, NextToken="bogus-token")


def test_channel_quota_26th(server, make_account):
    acct = make_account()
    ct = server.ct(acct)
    eds = create_integration_eds(ct)["EventDataStoreArn"]
    t0 = time.monotonic()
    for i in range(25):
        create_channel(ct, eds, name=f"q-{i:02d}")
    expect_error("ChannelMaxLimitExceededException", 400, create_channel, ct, eds, name="q-25")
    assert time.monotonic() - t0 < 10, "creating 26 channels should take well under 10 s"


# ------------------------------------------------------------------------------------------------
# per-account isolation


def test_resources_are_per_account(server, ct, integ, make_account):
    other = server.ct(make_account())
    # Another account's ARN: no resource policy lets it in, so AWS's answer is AccessDenied before any lookup.
    denied = "AccessDeniedException"
    e = expect_error(denied, 403, other.get_channel, Channel=integ.channel_arn)
    assert "because no resource-based policy allows the cloudtrail:GetChannel action" in e.response["Error"]["Message"]
    expect_error(denied, 403, other.update_channel, Channel=integ.channel_arn, Name="stolen")
    expect_error(denied, 403, other.delete_channel, Channel=integ.channel_arn)
    expect_error(denied, 403, other.get_event_data_store, EventDataStore=integ.eds_arn)
    expect_error(denied, 403, other.update_event_data_store, EventDataStore=integ.eds_arn, Name="stolen")
    expect_error(denied, 403, other.delete_event_data_store, EventDataStore=integ.eds_arn)
    expect_error(denied, 403, other.get_resource_policy, ResourceArn=integ.channel_arn)
    # A bare id names a resource of the caller's own account: there is none.
    expect_error("ChannelNotFoundException", 404, other.get_channel, Channel=integ.channel_id)
    expect_error("EventDataStoreNotFoundException", 404, other.get_event_data_store, EventDataStore=integ.eds_id)
    # A channel in another account cannot point at my store.
    expect_error("EventDataStoreNotFoundException", 404, create_channel, other, integ.eds_arn)
    assert other.list_channels()["Channels"] == []
    assert other.list_event_data_stores()["EventDataStores"] == []
    # The owner still has everything.
    assert ct.get_channel(Channel=integ.channel_arn)["Name"]


# ------------------------------------------------------------------------------------------------
# wire details: both X-Amz-Target forms, epoch timestamps, error shape


def test_smithy_target_form_via_boto3_hook(server, ct, owner):
    eds = create_integration_eds(ct)["EventDataStoreArn"]
    create_channel(ct, eds, name="smithy-visible")
    seen = []

    def rewrite(request, **_):
        t = request.headers["X-Amz-Target"]
        assert t.startswith(CT_TARGET_PREFIX)
        del request.headers["X-Amz-Target"]
        request.headers["X-Amz-Target"] = SMITHY_TARGET_PREFIX + t[len(CT_TARGET_PREFIX):]
        seen.append(request.headers["X-Amz-Target"])

    client = server.ct(owner)
    client.meta.events.register("before-sign.cloudtrail.*", rewrite)
    names = [c["Name"] for c in client.list_channels()["Channels"]]
    assert seen == ["CloudTrail_20131101.ListChannels"]
    assert "smithy-visible" in names
    g = client.get_event_data_store(EventDataStore=eds)
    assert g["EventDataStoreArn"] == eds


def test_both_target_forms_raw(server, owner):
    for prefix in (CT_TARGET_PREFIX, SMITHY_TARGET_PREFIX):
        r = raw_cloudtrail(server.endpoint, owner, "ListEventDataStores", {}, target_prefix=prefix)
        assert r.status == 200, (prefix, r.status, r.body)
        assert r.headers.get("content-type", "").startswith("application/x-amz-json-1.1")
        assert r.headers.get("x-amzn-requestid")
        assert "EventDataStores" in r.json()
    r = raw_cloudtrail(server.endpoint, owner, "NoSuchOperation", {})
    assert 400 <= r.status < 500, (r.status, r.body)
    assert "__type" in r.json()


def test_timestamps_are_epoch_numbers_and_errors_have_message(server, owner):
    r = raw_cloudtrail(server.endpoint, owner, "CreateEventDataStore",
                       {"Name": f"epoch-{uuid.uuid4().hex[:6]}", "AdvancedEventSelectors": INTEGRATION_SELECTORS})
    assert r.status == 200, r.body
    body = r.json()
    for k in ("CreatedTimestamp", "UpdatedTimestamp"):
        assert isinstance(body[k], (int, float)) and not isinstance(body[k], bool), f"{k} must be a JSON number: {body[k]!r}"
        assert abs(body[k] - time.time()) < 300
    e = raw_cloudtrail(server.endpoint, owner, "GetEventDataStore", {"EventDataStore": str(uuid.uuid4())})
    assert e.status == 404, e.body
    err = e.json()
    assert str(err["__type"]).rsplit("#", 1)[-1] == "EventDataStoreNotFoundException", err
    assert err.get("Message") or err.get("message"), err
    assert e.headers.get("x-amzn-requestid")

