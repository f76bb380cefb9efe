"""DuckDB's half of the query benchmark (scripts/bench-queries runs it after cairn-querybench).

Reads the results.json cairn-querybench wrote (its times, row counts and the store's live Parquet
files), runs the same sample queries with DuckDB over those files, and prints one table: rows on
both sides, best time on both sides, and Cairn/DuckDB. The DuckDB statements below are the samples
in DuckDB's dialect (maps by subscript, isodow for day_of_week); they must return the same rows.
"""

from __future__ import annotations

import json
import sys
import time

import duckdb

DUCKDB = {
    "Q01": "SELECT useridentity.principalid, eventname FROM t WHERE useridentity.principalid IS NOT NULL "
           "AND eventtime > '2023-01-22 00:00:00' AND eventtime < '2023-01-23 00:00:00' AND eventname = 'CreateBucket'",
    "Q02": "SELECT eventid, eventname, eventsource, eventtime FROM t WHERE useridentity.username = 'bob' "
           "AND eventtime > '2023-01-22 00:00:00' AND eventtime < '2023-01-23 00:00:00'",
    "Q03": "SELECT eventsource, eventname, COUNT(*) AS apicount FROM t WHERE eventtime > '2023-01-01 00:00:00' "
           "GROUP BY eventsource, eventname ORDER BY apicount DESC",
    "Q04": "SELECT eventtime, useridentity.arn, awsregion FROM t WHERE awsregion IN ('us-east-1', 'us-west-2') "
           "AND eventname = 'ConsoleLogin'",
    "Q05": "SELECT responseelements['queryId'], requestparameters['queryStatement'] FROM t WHERE eventname = 'StartQuery' "
           "AND eventsource = 'cloudtrail.amazonaws.com' AND responseelements IS NOT NULL "
           "AND eventtime > '2023-01-01 00:00:00' AND eventtime < '2023-02-01 00:00:00'",
    "Q06": "SELECT eventid, eventname FROM t UNION SELECT eventid, eventname FROM t UNION ALL "
           "SELECT eventid, eventname FROM t ORDER BY eventid LIMIT 10",
    "Q09": "SELECT * FROM t WHERE eventsource = 'signin.amazonaws.com' AND eventname = 'ConsoleLogin' "
           "AND additionaleventdata['MFAUsed'] = 'No'",
    "Q10": "SELECT awsregion, eventsource, COUNT(*) AS apicount FROM t WHERE eventtime > '2022-04-23 00:00:00' "
           "AND eventtime < '2022-11-26 00:00:00' GROUP BY awsregion, eventsource ORDER BY apicount DESC",
    "Q11": "SELECT eventsource, eventname, sourceipaddress, eventtime, errorcode FROM t "
           "WHERE useridentity.accesskeyid = 'AKIAIOSFODNN7EXAMPLE' AND eventtime > '2023-01-01 00:00:00' "
           "AND eventtime < '2023-01-07 00:00:00' ORDER BY eventtime",
    "Q12": "SELECT useridentity.principalid, eventname, eventsource, useridentity.accountid, recipientaccountid, "
           "requestparameters, eventtime FROM t WHERE eventtime > '2022-04-30 00:00:00' "
           "AND eventtime < '2022-06-01 00:00:00' AND useridentity.accountid != recipientaccountid",
    "Q13": "SELECT isodow(eventtime) AS weekday, COUNT(*) AS eventcount FROM t WHERE eventtime > '2022-01-01 00:00:00' "
           "AND eventtime < '2022-01-01 00:00:00' AND eventcategory = 'Data' GROUP BY isodow(eventtime) "
           "ORDER BY isodow(eventtime)",
    "Q14": "SELECT COUNT(*) AS apicount, eventname, recipientaccountid, useridentity.principalid FROM t "
           "WHERE useridentity.principalid IS NOT NULL AND eventtime >= '2022-01-08 00:00:00' "
           "AND eventsource = 'iam.amazonaws.com' GROUP BY eventname, recipientaccountid, useridentity.principalid "
           "ORDER BY apicount DESC",
    "Q15": "SELECT eventid, eventtime, useridentity.sessioncontext.sessionissuer.arn AS rolearn, "
           "useridentity.principalid FROM t WHERE eventsource = 'sts.amazonaws.com' AND eventname = 'AssumeRole' "
           "AND useridentity.type = 'AssumedRole' AND errorcode IS NULL "
           "AND useridentity.sessioncontext.sessionissuer.arn = resources[1].arn",
    "Q16": "SELECT useridentity.principalid, eventname, eventtime, requestparameters['userName'] AS username, "
           "requestparameters['groupName'] AS groupname FROM t WHERE eventtime > '2022-04-30 00:00:00' "
           "AND eventtime < '2022-11-01 00:00:00' AND eventname = 'AddUserToGroup' "
           "AND requestparameters['groupName'] LIKE '%admin%'",
    "Q17": "SELECT eventname, awsregion, sourceipaddress, recipientaccountid, tlsdetails.tlsversion FROM t "
           "WHERE eventtime > '2022-01-01 00:00:00' AND eventtime < '2022-01-01 00:00:00' "
           "AND tlsdetails.tlsversion != 'TLSv1.3'",
    "Q18": "SELECT useridentity.principalid, useridentity.accountid, count(*) AS eventcount FROM t "
           "WHERE useridentity.principalid IS NOT NULL AND eventtime > '2022-01-01 00:00:00' "
           "AND eventtime < '2022-01-01 00:00:00' GROUP BY useridentity.principalid, useridentity.accountid "
           "ORDER BY eventcount DESC",
    "Q19": "SELECT responseelements FROM t WHERE eventid = '3270e016-59a1-4448-8dd1-d27a4796502d'",
}


def main() -> int:
    report = json.load(open(sys.argv[1]))
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = ", ".join("'" + f.replace("'", "''") + "'" for f in report["files"])
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet([{files}])")
    print(f"\n{report['events']} events, {len(report['files'])} Parquet files, {report['bytes'] / 1e6:.1f} MB; "
          f"duckdb {duckdb.__version__}, best of {runs} runs\n")
    print("| query | rows (Cairn) | rows (DuckDB) | Cairn s | DuckDB s | Cairn / DuckDB |")
    print("|---|---|---|---|---|---|")
    worst, mismatched = 0.0, []
    for name, cairn in report["queries"].items():
        if "error" in cairn:
            why = " ".join(cairn["error"].split())[:70]
            print(f"| {name} | refused: {why} | – | – | – | – |")
            continue
        if "skipped" in cairn:
            print(f"| {name} | {cairn['skipped']} | – | – | – | – |")
            continue
        sql = DUCKDB[name]
        best, rows = float("inf"), None
        for _ in range(runs):
            started = time.perf_counter()
            rows = con.execute(sql).fetchall()
            best = min(best, time.perf_counter() - started)
        ratio = cairn["seconds"] / best if best > 0 else float("inf")
        worst = max(worst, ratio)
        if len(rows) != cairn["rows"]:
            mismatched.append(name)
        print(f"| {name} | {cairn['rows']} | {len(rows)} | {cairn['seconds']:.3f} | {best:.3f} | {ratio:.2f}x |")
    print(f"\nworst ratio: {worst:.2f}x (target: every query within 1.5x)")
    if mismatched:
        print(f"ROW COUNTS DIFFER: {', '.join(mismatched)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
