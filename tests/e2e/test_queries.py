"""StartQuery / DescribeQuery / GetQueryResults / ListQueries / CancelQuery over ingested integration events."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from cairn_e2e import (
    assert_partition,
    audit_event,
    event_data,
    expect_error,
    run_query,
    setup_integration,
    wait_query,
)


def _put(ctd, integ, events):
    resp = ctd.put_audit_events(channelArn=integ.channel_arn, auditEvents=events)
    ok, bad = assert_partition(resp, [e["id"] for e in events])
    assert bad == {}, bad
    return ok


def test_ingested_event_queried_back(ct, ctd, integ, owner):
    """CASES PAE-11."""
    ok = _put(ctd, integ, [audit_event("evt-0001", event_data("evt-0001", owner.account_id), True)])
    sql = (f"SELECT eventData.uid, eventData.eventName, eventData.userIdentity.principalId, eventCategory, eventType, "
           f"recipientAccountId, awsRegion, metadata.channelArn FROM {integ.eds_id} WHERE eventData.uid = 'evt-0001'")
    r = run_query(ct, sql)
    assert r.rows == [[
        ("uid", "evt-0001"),
        ("eventName", "Login"),
        ("principalId", "alice"),
        ("eventCategory", "ActivityAuditLog"),
        ("eventType", "ActivityLog"),
        ("recipientAccountId", owner.account_id),
        ("awsRegion", "us-east-1"),
        ("channelArn", integ.channel_arn),
    ]]
    assert r.describe["QueryStatus"] == "FINISHED"

    r = run_query(ct, f"SELECT eventID, eventTime, eventVersion, metadata.ingestionTime, eventData.eventTime AS sourceTime, "
                      f"eventData.version FROM {integ.eds_id} WHERE eventData.uid = 'evt-0001'")
    (row,) = r.dicts()
    assert row["eventID"] == ok["evt-0001"], "the stored eventID is the one PutAuditEvents returned"
    assert row["eventTime"] == "2024-01-15 11:59:00.000", "top-level eventTime = eventData.eventTime, as a timestamp"
    assert row["eventVersion"]
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    assert row["ingestionTime"].startswith(today), row
    assert row["sourceTime"] == "2024-01-15T11:59:00Z", "eventData.eventTime is kept as the caller's string"
    assert row["version"] == "1.0"


def test_result_keys_aliases_and_unnamed_columns(ct, ctd, integ, owner):
    events = [audit_event(f"k{i}", event_data(f"k{i}", owner.account_id, eventName=name))
              for i, name in enumerate(["Login", "Login", "Logout"])]
    _put(ctd, integ, events)
    r = run_query(ct, f"SELECT COUNT(*) FROM {integ.eds_id}")
    assert r.rows == [[("_col0", "3")]]
    r = run_query(ct, f"SELECT eventData.eventName, COUNT(*) FROM {integ.eds_id} GROUP BY eventData.eventName "
                      f"ORDER BY eventData.eventName")
    assert r.rows == [[("eventName", "Login"), ("_col1", "2")], [("eventName", "Logout"), ("_col1", "1")]]
    r = run_query(ct, f"SELECT eventData.eventName AS name, COUNT(*) AS n FROM {integ.eds_id} "
                      f"GROUP BY eventData.eventName ORDER BY n DESC")
    assert r.rows == [[("name", "Login"), ("n", "2")], [("name", "Logout"), ("n", "1")]]


def test_column_names_are_case_insensitive_keys_as_typed(ct, ctd, integ, owner):
    _put(ctd, integ, [audit_event("c1", event_data("case-1", owner.account_id))])
    r = run_query(ct, f"SELECT eventdata.eventname, EVENTDATA.UID, eventcategory FROM {integ.eds_id}")
    assert r.rows == [[("eventname", "Login"), ("UID", "case-1"), ("eventcategory", "ActivityAuditLog")]]


def test_null_is_rendered_as_empty_string(ct, ctd, integ, owner):
    _put(ctd, integ, [
        audit_event("n1", event_data("null-1", owner.account_id)),
        audit_event("n2", event_data("null-2", owner.account_id, errorCode="AccessDenied")),
    ])
    r = run_query(ct, f"SELECT eventData.uid, eventData.errorCode FROM {integ.eds_id} ORDER BY eventData.uid")
    assert r.rows == [[("uid", "null-1"), ("errorCode", "")], [("uid", "null-2"), ("errorCode", "AccessDenied")]]
    r = run_query(ct, f"SELECT COUNT(*) AS n FROM {integ.eds_id} WHERE eventData.errorCode IS NULL")
    assert r.rows == [[("n", "1")]]


def test_time_range_filter(ct, ctd, integ, owner):
    times = ["2024-01-14T23:59:59Z", "2024-01-15T00:00:01Z", "2024-01-15T12:30:00Z", "2024-01-16T00:00:00Z"]
    _put(ctd, integ, [audit_event(f"t{i}", event_data(f"time-{i}", owner.account_id, eventTime=t)) for i, t in enumerate(times)])
    r = run_query(ct, f"SELECT eventData.uid, eventTime FROM {integ.eds_id} WHERE eventTime > '2024-01-15 00:00:00' "
                      f"AND eventTime < '2024-01-16 00:00:00' ORDER BY eventTime")
    assert r.rows == [[("uid", "time-1"), ("eventTime", "2024-01-15 00:00:01.000")],
                      [("uid", "time-2"), ("eventTime", "2024-01-15 12:30:00.000")]]


def test_queries_see_only_their_event_data_store(ct, ctd, integ, owner):
    other = setup_integration(ct, owner)
    _put(ctd, integ, [audit_event(f"a{i}", event_data(f"iso-a{i}", owner.account_id)) for i in range(3)])
    _put(ctd, other, [audit_event(f"b{i}", event_data(f"iso-b{i}", owner.account_id)) for i in range(2)])
    assert run_query(ct, f"SELECT COUNT(*) FROM {integ.eds_id}").rows == [[("_col0", "3")]]
    r = run_query(ct, f"SELECT eventData.uid, metadata.channelArn FROM {other.eds_id} ORDER BY eventData.uid")
    assert r.rows == [[("uid", "iso-b0"), ("channelArn", other.channel_arn)],
                      [("uid", "iso-b1"), ("channelArn", other.channel_arn)]]


# ------------------------------------------------------------------------------------------------
# statement validation


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO {eds} (eventID) VALUES ('x')",
        "DELETE FROM {eds}",
        "UPDATE {eds} SET eventID = 'x'",
        "DROP TABLE {eds}",
        "CREATE TABLE t (a INT)",
        "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
        "COPY (SELECT 1) TO '/tmp/cairn-e2e-copy.csv'",
        "EXPLAIN SELECT * FROM {eds}",
        "SET datafusion.execution.batch_size = 1",
        "SELECT * FROM {eds}; DROP TABLE {eds}",
        "SELEC eventID FROM {eds}",
        "SELECT FROM WHERE",
        "SELECT eventID FROM {eds} WHERE",
        "SELECT 1",
        "SELECT now()",
    ],
)
def test_non_select_or_broken_sql_is_refused(ct, integ, sql):
    expect_error("InvalidQueryStatementException", 400, ct.start_query, QueryStatement=sql.format(eds=integ.eds_id))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM information_schema.tables",
        "SELECT eventID FROM {unknown}",
    ],
    ids=["file-path", "table-function", "information-schema", "unknown-eds"],
)
def test_tables_other_than_own_event_data_stores_are_refused(ct, integ, sql):
    e = expect_error({"InvalidQueryStatementException", "EventDataStoreNotFoundException"}, (400, 404),
                     ct.start_query, QueryStatement=sql.format(unknown=str(uuid.uuid4())))
    assert "root:" not in e.response["Error"]["Message"]


def test_other_accounts_event_data_store_is_not_queryable(server, ct, ctd, integ, owner, make_account):
    _put(ctd, integ, [audit_event("s1", event_data("secret-1", owner.account_id))])
    other = server.ct(make_account())
    expect_error({"InvalidQueryStatementException", "EventDataStoreNotFoundException"}, (400, 404),
                 other.start_query, QueryStatement=f"SELECT eventData.uid FROM {integ.eds_id}")


# ------------------------------------------------------------------------------------------------
# DescribeQuery, GetQueryResults paging, ListQueries, CancelQuery


def test_describe_query(ct, ctd, integ, owner):
    _put(ctd, integ, [audit_event(f"d{i}", event_data(f"desc-{i}", owner.account_id)) for i in range(4)])
    sql = f"SELECT eventData.uid FROM {integ.eds_id} WHERE eventData.uid <> 'desc-0'"
    qid = ct.start_query(QueryStatement=sql)["QueryId"]
    d = wait_query(ct, qid)
    assert d["QueryId"] == qid
    assert d["QueryString"] == sql
    assert d["QueryStatus"] == "FINISHED"
    stats = d["QueryStatistics"]
    for k in ("EventsMatched", "EventsScanned", "BytesScanned", "ExecutionTimeInMillis", "CreationTime"):
        assert k in stats, f"QueryStatistics lacks {k}: {stats}"
    assert stats["EventsMatched"] == 3
    assert stats["EventsScanned"] >= 4
    assert isinstance(stats["CreationTime"], dt.datetime)


def test_get_query_results_paging(ct, ctd, integ, owner):
    _put(ctd, integ, [audit_event(f"p{i:02d}", event_data(f"page-{i:02d}", owner.account_id)) for i in range(25)])
    qid = ct.start_query(QueryStatement=f"SELECT eventData.uid FROM {integ.eds_id} ORDER BY eventData.uid")["QueryId"]
    wait_query(ct, qid)
    uids, sizes, token = [], [], None
    for _ in range(10):
        kw = {"QueryId": qid, "MaxQueryResults": 10}
        if token:
            kw["NextToken"] = token
        page = ct.get_query_results(**kw)
        assert page["QueryStatus"] == "FINISHED"
        rows = page["QueryResultRows"]
        sizes.append(len(rows))
        assert page["QueryStatistics"]["ResultsCount"] == len(rows)
        assert page["QueryStatistics"]["TotalResultsCount"] == 25
        uids += [row[0]["uid"] for row in rows]
        token = page.get("NextToken")
        if not token:
            break
        assert len(token) >= 4
    assert sizes == [10, 10, 5]
    assert uids == [f"page-{i:02d}" for i in range(25)]
    expect_error("InvalidNextTokenException", 400, ct.get_query_results, QueryId=qid, NextToken="bogus-token")
    expect_error({"InvalidMaxResultsException", "InvalidParameterException", "ValidationException"}, 400,
                 ct.get_query_results, QueryId=qid, MaxQueryResults=1001)


def test_list_queries(ct, ctd, integ, owner):
    q1 = run_query(ct, f"SELECT COUNT(*) FROM {integ.eds_id}").query_id
    q2 = run_query(ct, f"SELECT eventID FROM {integ.eds_id}").query_id
    for ref in (integ.eds_arn, integ.eds_id):
        listed = ct.list_queries(EventDataStore=ref)["Queries"]
        by_id = {q["QueryId"]: q for q in listed}
        assert {q1, q2} <= set(by_id), listed
        assert by_id[q1]["QueryStatus"] == "FINISHED"
        assert isinstance(by_id[q1]["CreationTime"], dt.datetime)
    finished = ct.list_queries(EventDataStore=integ.eds_arn, QueryStatus="FINISHED")["Queries"]
    assert {q1, q2} <= {q["QueryId"] for q in finished}
    assert ct.list_queries(EventDataStore=integ.eds_arn, QueryStatus="FAILED")["Queries"] == []
    page = ct.list_queries(EventDataStore=integ.eds_arn, MaxResults=1)
    assert len(page["Queries"]) == 1 and len(page.get("NextToken", "")) >= 4
    rest = ct.list_queries(EventDataStore=integ.eds_arn, MaxResults=1, NextToken=page["NextToken"])
    assert {page["Queries"][0]["QueryId"], rest["Queries"][0]["QueryId"]} == {q1, q2}
    expect_error("EventDataStoreNotFoundException", 404, ct.list_queries, EventDataStore=str(uuid.uuid4()))


def test_cancel_finished_query(ct, integ):
    qid = run_query(ct, f"SELECT COUNT(*) FROM {integ.eds_id}").query_id
    expect_error("InactiveQueryException", 400, ct.cancel_query, QueryId=qid)
    assert ct.describe_query(QueryId=qid)["QueryStatus"] == "FINISHED"


def test_unknown_query_id(server, ct, integ, make_account):
    unknown = str(uuid.uuid4())
    expect_error("QueryIdNotFoundException", 404, ct.describe_query, QueryId=unknown)
    expect_error("QueryIdNotFoundException", 404, ct.get_query_results, QueryId=unknown)
    expect_error("QueryIdNotFoundException", 404, ct.cancel_query, QueryId=unknown)
    # Another account's query is not visible either.
    qid = run_query(ct, f"SELECT COUNT(*) FROM {integ.eds_id}").query_id
    other = server.ct(make_account())
    expect_error("QueryIdNotFoundException", 404, other.describe_query, QueryId=qid)
    expect_error("QueryIdNotFoundException", 404, other.get_query_results, QueryId=qid)


def test_query_id_shape(ct, integ):
    qid = ct.start_query(QueryStatement=f"SELECT COUNT(*) FROM {integ.eds_id}")["QueryId"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", qid), qid
    wait_query(ct, qid)
