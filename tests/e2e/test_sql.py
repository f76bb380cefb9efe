"""The query lifecycle with the AWS CLI and boto3: start, describe, page, list, cancel, time out, the
per-account limit, and statements refused at StartQuery (unknown columns, broken samples, escapes)."""

from __future__ import annotations

import pytest

from cairn_e2e import (
    assert_partition,
    audit_event,
    event_data,
    expect_error,
    run_aws,
    run_query,
    setup_integration,
    wait_for,
)


def _fill(server, owner, integ, n: int, prefix: str) -> None:
    ctd = server.ctd(owner)
    events = [audit_event(f"{prefix}{i}", event_data(f"{prefix}-{i:03}", owner.account_id)) for i in range(n)]
    for at in range(0, n, 100):
        chunk = events[at:at + 100]
        ok, bad = assert_partition(ctd.put_audit_events(channelArn=integ.channel_arn, auditEvents=chunk),
                                   [e["id"] for e in chunk])
        assert bad == {}, bad


def _cli(server, owner, *args: str):
    return run_aws(server.endpoint, ["cloudtrail", *args], creds=owner)


def test_cli_start_describe_page_list(server, ct, owner, integ):
    _fill(server, owner, integ, 5, "cli")
    sql = f"SELECT eventData.uid, eventTime FROM {integ.eds_id} WHERE eventData.uid LIKE 'cli-%' ORDER BY eventData.uid"
    r = _cli(server, owner, "start-query", "--query-statement", sql)
    assert r.rc == 0, r.display
    qid = r.out["QueryId"]
    d = wait_for(lambda: (lambda x: x if x.out["QueryStatus"] == "FINISHED" else None)(
        _cli(server, owner, "describe-query", "--query-id", qid)), timeout=30, what="FINISHED")
    stats = d.out["QueryStatistics"]
    assert stats["EventsMatched"] == 5 and stats["EventsScanned"] >= 5 and stats["BytesScanned"] > 0, stats

    seen, token, pages = [], None, 0
    while True:
        args = ["get-query-results", "--query-id", qid, "--max-query-results", "2", "--no-paginate"]
        if token:
            args += ["--next-token", token]
        r = _cli(server, owner, *args)
        assert r.rc == 0, r.display
        page = r.out
        pages += 1
        assert page["QueryStatus"] == "FINISHED"
        assert page["QueryStatistics"]["ResultsCount"] == len(page["QueryResultRows"]) <= 2
        assert page["QueryStatistics"]["TotalResultsCount"] == 5
        seen += [row[0]["uid"] for row in page["QueryResultRows"]]
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 3 and seen == [f"cli-{i:03}" for i in range(5)]

    r = _cli(server, owner, "list-queries", "--event-data-store", integ.eds_arn)
    assert r.rc == 0 and qid in [q["QueryId"] for q in r.out["Queries"]], r.display
    r = _cli(server, owner, "cancel-query", "--query-id", qid)
    assert r.rc != 0 and "InactiveQueryException" in r.stderr, r.display


@pytest.mark.parametrize("sql, why", [
    ("SELECT nosuchcolumn FROM {eds}", "nosuchcolumn"),
    ("SELECT a.eventData.eventName, element_at(a.map, 'test') FROM {eds} AS a", "map"),
    ("SELECT * FROM {eds} WHERE eventtime >='2023-01-05 13:51:00' and eventtime < ='2023-01-19 13:51:00'", ""),
    ("SELECT no_such_function(eventTime) FROM {eds}", "no_such_function"),
    ("SELECT * FROM {eds} WHERE eventTime > 'not a time'", ""),
])
def test_statements_that_cannot_run_are_refused_at_start(server, owner, integ, sql, why):
    r = _cli(server, owner, "start-query", "--query-statement", sql.format(eds=integ.eds_id))
    assert r.rc != 0 and "InvalidQueryStatementException" in r.stderr, r.display
    assert why in r.stderr


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_parquet('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM datafusion.public.{eds}",
    "SELECT * FROM information_schema.df_settings",
    "EXPLAIN SELECT * FROM {eds}",
    "SHOW TABLES",
    "CREATE VIEW v AS SELECT * FROM {eds}",
    "PREPARE p AS SELECT * FROM {eds}",
    "SELECT * FROM {eds}; DROP TABLE {eds}",
])
def test_escapes_are_invalid_statements(ct, integ, sql):
    expect_error("InvalidQueryStatementException", 400, ct.start_query, QueryStatement=sql.format(eds=integ.eds_id))


def test_sample_query_functions_over_the_wire(ct, ctd, owner, integ):
    _fill_one = [audit_event("fn1", event_data("fn-1", owner.account_id))]
    assert_partition(ctd.put_audit_events(channelArn=integ.channel_arn, auditEvents=_fill_one), ["fn1"])
    rows = run_query(ct, f"SELECT day_of_week(eventTime) BETWEEN 1 AND 7 AS dow, date_format(eventTime, '%Y') AS y, "
                         f"count_if(eventData.uid = 'fn-1') AS n, eventData.userIdentity AS who "
                         f"FROM {integ.eds_id} WHERE eventData.uid = 'fn-1' GROUP BY 1, 2, 4").dicts()
    assert len(rows) == 1 and rows[0]["dow"] == "true" and rows[0]["n"] == "1"
    assert len(rows[0]["y"]) == 4 and rows[0]["y"].isdigit()
    assert rows[0]["who"].startswith("{type=") and "principalid=" in rows[0]["who"], rows


def runaway_join(e: str) -> str:
    """60^5 joined rows (every event has the same region): minutes of work unless stopped. Hash joins hand out their
    rows batch by batch, so the work yields where it can be stopped."""
    return (f"SELECT count(*) FROM {e} a JOIN {e} b ON a.awsregion = b.awsregion JOIN {e} c ON b.awsregion = c.awsregion "
            f"JOIN {e} d ON c.awsregion = d.awsregion JOIN {e} f ON d.awsregion = f.awsregion")


def test_cancel_stops_the_work_and_the_queue_limit(private_server):
    """One query worker, three queries per account."""
    srv = private_server("sql-limits", extra_args=["--query-workers", "1", "--max-concurrent-queries", "3"])
    owner = srv.create_account()
    ct = srv.ct(owner)
    integ = setup_integration(ct, owner)
    _fill(srv, owner, integ, 60, "h")
    e = integ.eds_id
    heavy = runaway_join(e)
    first = ct.start_query(QueryStatement=heavy)["QueryId"]
    wait_for(lambda: ct.describe_query(QueryId=first)["QueryStatus"] == "RUNNING", timeout=20, what="RUNNING")
    second = ct.start_query(QueryStatement=heavy)["QueryId"]
    third = ct.start_query(QueryStatement=heavy)["QueryId"]
    assert ct.describe_query(QueryId=second)["QueryStatus"] == "QUEUED"
    expect_error("MaxConcurrentQueriesException", 429, ct.start_query, QueryStatement=heavy)

    # Cancelling a queued query: it never runs.
    assert ct.cancel_query(QueryId=second)["QueryStatus"] == "CANCELLED"
    # Cancelling the running one frees the only worker: the third starts at once.
    assert ct.cancel_query(QueryId=first)["QueryStatus"] == "CANCELLED"
    wait_for(lambda: ct.describe_query(QueryId=third)["QueryStatus"] == "RUNNING", timeout=10,
             what="the next query to run once the cancelled one stopped")
    assert ct.describe_query(QueryId=second)["QueryStatus"] == "CANCELLED"
    assert ct.describe_query(QueryId=first)["QueryStatus"] == "CANCELLED"
    assert ct.cancel_query(QueryId=third)["QueryStatus"] == "CANCELLED"
    page = ct.get_query_results(QueryId=third)
    assert page["QueryStatus"] == "CANCELLED" and page["QueryResultRows"] == []
    # The worker is free again.
    assert run_query(ct, f"SELECT COUNT(*) AS n FROM {e}").dicts() == [{"n": "60"}]


def test_a_query_past_the_timeout_is_stopped(private_server):
    srv = private_server("sql-timeout", extra_args=["--query-workers", "1", "--query-timeout", "5"])
    owner = srv.create_account()
    ct = srv.ct(owner)
    integ = setup_integration(ct, owner)
    _fill(srv, owner, integ, 60, "t")
    e = integ.eds_id
    qid = ct.start_query(QueryStatement=runaway_join(e))["QueryId"]
    d = wait_for(lambda: (lambda x: x if x["QueryStatus"] in ("FINISHED", "FAILED", "CANCELLED", "TIMED_OUT") else None)(
        ct.describe_query(QueryId=qid)), timeout=30, what="the timeout")
    assert d["QueryStatus"] == "TIMED_OUT" and "5 seconds" in d["ErrorMessage"], d
    page = ct.get_query_results(QueryId=qid)
    assert page["QueryStatus"] == "TIMED_OUT" and page["QueryResultRows"] == []
    # The worker is free again.
    assert run_query(ct, f"SELECT COUNT(*) AS n FROM {e}").dicts() == [{"n": "60"}]
