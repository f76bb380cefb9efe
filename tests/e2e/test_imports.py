"""StartImport / GetImport / ListImports / ListImportFailures / StopImport over file:// sources, on the 55 real
trail files of the Invictus dataset and the odd files of cases IMP-01..03; then AWS's sample security queries over
the imported events, with expected rows computed here from the files themselves.
"""

from __future__ import annotations

import collections
import gzip
import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from cairn_e2e import cairn_bin, create_integration_eds, expect_error, run_query

CASES = Path(__file__).resolve().parents[3] / "shared" / "cases" / "data"
REAL = CASES / "real" / "invictus_aws_dataset" / "CloudTrail"
ODD = CASES / "cloudtrail"
ACCOUNT = "218007301253"


def gzip_to(src: Path | bytes, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    data = src if isinstance(src, bytes) else src.read_bytes()
    dst.write_bytes(gzip.compress(data))


def real_bucket(root: Path) -> list[dict]:
    """The 55 real files as CloudTrail delivers them (gzipped, AWSLogs/<acct>/CloudTrail/<region>/Y/M/D/); returns
    their records."""
    records = []
    for f in sorted(REAL.iterdir()):
        name = f.name  # 218007301253_CloudTrail_us-east-1_20230710T1220Z_….json
        day = name.split("_")[3][:8]
        prefix = root / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / day[:4] / day[4:6] / day[6:8]
        gzip_to(f, prefix / (name + ".gz"))
        records += json.loads(f.read_text())["Records"]
    return records


def wait_import(ct, import_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        g = ct.get_import(ImportId=import_id)
        if g["ImportStatus"] in ("COMPLETED", "FAILED", "STOPPED"):
            return g
        assert time.monotonic() < deadline, f"import {import_id} still {g['ImportStatus']}"
        time.sleep(0.1)


def cloudtrail_store(ct) -> tuple[str, str]:
    """A store for imported trail events only: created with StartIngestion false, as AWS advises for copies, so
    that Cairn's own management events stay out of it."""
    arn = ct.create_event_data_store(Name=f"trail-{uuid.uuid4().hex[:8]}", RetentionPeriod=3653,
                                     StartIngestion=False)["EventDataStoreArn"]
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "STOPPED_INGESTION"
    return arn, arn.rsplit("/", 1)[-1]


def source(path: Path) -> dict:
    return {"S3": {"S3LocationUri": f"file://{path}", "S3BucketRegion": "us-east-1",
                   "S3BucketAccessRoleArn": f"arn:aws:iam::{ACCOUNT}:role/import"}}


@pytest.fixture
def importer(private_server, tmp_path):
    """A server with --import-dir; the root account's own import directory is <import-dir>/<account id>."""
    base = tmp_path / "imports"
    base.mkdir()
    srv = private_server("imports", extra_args=["--import-dir", str(base)])
    root = base / srv.root.account_id
    root.mkdir()
    return srv, root


def test_real_trail_files_import_and_answer_sample_queries(importer):
    srv, root = importer
    ct = srv.ct(srv.root)
    bucket = root / "bucket"
    records = real_bucket(bucket)
    eds_arn, eds = cloudtrail_store(ct)
    started = ct.start_import(Destinations=[eds_arn], ImportSource=source(bucket))
    assert started["ImportStatus"] == "INITIALIZING" and started["Destinations"] == [eds_arn]
    g = wait_import(ct, started["ImportId"])
    stats = g["ImportStatistics"]
    assert g["ImportStatus"] == "COMPLETED", g
    assert stats["FilesCompleted"] == 55 and stats["FailedEntries"] == 0
    assert stats["EventsCompleted"] == len(records)
    assert stats["PrefixesFound"] == stats["PrefixesCompleted"] >= 1
    assert ct.list_import_failures(ImportId=started["ImportId"])["Failures"] == []
    listed = ct.list_imports(Destination=eds_arn)["Imports"]
    assert [i["ImportId"] for i in listed] == [started["ImportId"]]
    assert ct.list_imports(ImportStatus="IN_PROGRESS")["Imports"] == []

    assert run_query(ct, f"SELECT COUNT(*) AS n FROM {eds}").dicts() == [{"n": str(len(records))}]
    ids = run_query(ct, f"SELECT COUNT(DISTINCT eventID) AS n FROM {eds}").dicts()
    assert ids == [{"n": str(len({r['eventID'] for r in records}))}]

    # Errors by principal (sample "top errors"), exact rows from the files.
    errors = collections.Counter((r["userIdentity"].get("arn", ""), r["errorCode"]) for r in records if r.get("errorCode"))
    want = sorted(errors.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))[:10]
    got = run_query(ct, f"SELECT userIdentity.arn AS principal, errorCode, COUNT(*) AS n FROM {eds} "
                        "WHERE errorCode IS NOT NULL GROUP BY userIdentity.arn, errorCode "
                        "ORDER BY n DESC, principal, errorCode LIMIT 10").dicts()
    assert [(r["principal"], r["errorCode"], int(r["n"])) for r in got] == [(a, c, n) for (a, c), n in want]

    # AccessDenied callers.
    denied = collections.Counter(r["userIdentity"].get("arn", "") for r in records
                                 if r.get("errorCode") in ("AccessDenied", "Client.UnauthorizedOperation"))
    got = run_query(ct, f"SELECT userIdentity.arn AS caller, COUNT(*) AS n FROM {eds} WHERE errorCode IN "
                        "('AccessDenied', 'Client.UnauthorizedOperation') GROUP BY userIdentity.arn ORDER BY n DESC, caller").dicts()
    assert {(r["caller"], int(r["n"])) for r in got} == set(denied.items())

    # S3 data events.
    s3 = collections.Counter(r["eventName"] for r in records
                             if r["eventSource"] == "s3.amazonaws.com" and r.get("managementEvent") is False)
    got = run_query(ct, f"SELECT eventName, COUNT(*) AS n FROM {eds} WHERE eventSource = 's3.amazonaws.com' "
                        "AND managementEvent = false GROUP BY eventName").dicts()
    assert {(r["eventName"], int(r["n"])) for r in got} == set(s3.items())

    # Role sessions: who assumed what.
    roles = collections.Counter(r["userIdentity"]["sessionContext"]["sessionIssuer"].get("userName", "")
                                for r in records if r["userIdentity"].get("type") == "AssumedRole"
                                and r["userIdentity"].get("sessionContext", {}).get("sessionIssuer"))
    got = run_query(ct, f"SELECT userIdentity.sessionContext.sessionIssuer.userName AS role, COUNT(*) AS n FROM {eds} "
                        "WHERE userIdentity.type = 'AssumedRole' GROUP BY 1").dicts()
    assert {(r["role"], int(r["n"])) for r in got if r["role"]} == {kv for kv in roles.items() if kv[0]}


def test_bad_files_fail_alone_and_a_retry_resumes(importer):
    """IMP-01 (gzip only), IMP-02 (empty Records), IMP-03 (digests and other prefixes), and retry by ImportId."""
    srv, root = importer
    ct = srv.ct(srv.root)
    bucket = root / "odd"
    logs = bucket / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1"
    (logs / "2013/11/01").mkdir(parents=True)
    shutil.copy(ODD / "awsctpl_SerializerTestFileCompact.json.gz", logs / "2013/11/01/compact.json.gz")
    shutil.copy(ODD / "otel_cloudtrail_log.json", logs / "2013/11/01/x.json")
    gzip_to(ODD / "otel_cloudtrail_log_empty.json", logs / "2025/10/20/empty.json.gz")
    gzip_to(ODD / "otel_cloudtrail_digest.json",
            bucket / "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2025/10/21/digest.json.gz")
    gzip_to(ODD / "otel_cloudtrail_log.json", bucket / "AWSLogs/111122223333/Config/us-east-1/config.json.gz")
    eds_arn, eds = cloudtrail_store(ct)
    first = ct.start_import(Destinations=[eds_arn], ImportSource=source(bucket))["ImportId"]
    g = wait_import(ct, first)
    assert g["ImportStatus"] == "FAILED", g
    assert g["ImportStatistics"]["EventsCompleted"] == 6
    assert g["ImportStatistics"]["FilesCompleted"] == 2  # compact.json.gz and empty.json.gz
    failures = ct.list_import_failures(ImportId=first)["Failures"]
    assert len(failures) == 1, failures
    assert failures[0]["Location"].endswith("CloudTrail/us-east-1/2013/11/01/x.json")
    assert failures[0]["Status"] == "FAILED" and failures[0]["ErrorType"] == "InvalidFileFormat"
    assert "gzip" in failures[0]["ErrorMessage"]

    # Fix the bad file and retry: only it is imported now; nothing is imported twice.
    (logs / "2013/11/01/x.json").unlink()
    gzip_to(ODD / "otel_cloudtrail_log.json", logs / "2013/11/01/x.json.gz")
    again = ct.start_import(ImportId=first)
    assert again["ImportId"] == first
    g = wait_import(ct, first)
    assert g["ImportStatus"] == "COMPLETED", g
    seven = len(json.loads((ODD / "otel_cloudtrail_log.json").read_text())["Records"])
    assert g["ImportStatistics"]["EventsCompleted"] == 6 + seven
    assert g["ImportStatistics"]["FilesCompleted"] == 3
    assert ct.list_import_failures(ImportId=first)["Failures"] == []
    # The 2021-2025 events are within the store's ten-year retention (the 2013 ones are not, and are never shown).
    r = run_query(ct, f"SELECT COUNT(*) AS n, COUNT(DISTINCT eventID) AS ids FROM {eds} WHERE eventTime >= '2016-12-31 00:00:00'")
    assert r.dicts() == [{"n": str(seven), "ids": str(seven)}]
    expect_error("InvalidParameterException", 400, ct.start_import, ImportId=first)  # COMPLETED: nothing to retry


def test_import_requests_are_checked(importer, tmp_path):
    srv, root = importer
    ct = srv.ct(srv.root)
    eds_arn, _ = cloudtrail_store(ct)
    (root / "empty").mkdir()
    expect_error("InvalidImportSourceException", 400, ct.start_import, Destinations=[eds_arn],
                 ImportSource={"S3": {"S3LocationUri": "s3://bucket/prefix", "S3BucketRegion": "us-east-1",
                                      "S3BucketAccessRoleArn": f"arn:aws:iam::{ACCOUNT}:role/r"}})
    e = expect_error("InvalidImportSourceException", 400, ct.start_import, Destinations=[eds_arn],
                     ImportSource=source(tmp_path))
    assert "import directory" in e.response["Error"]["Message"]
    expect_error("InvalidImportSourceException", 400, ct.start_import, Destinations=[eds_arn],
                 ImportSource=source(root / "missing"))
    integ = create_integration_eds(ct)["EventDataStoreArn"]
    expect_error("InvalidEventDataStoreCategoryException", 400, ct.start_import, Destinations=[integ],
                 ImportSource=source(root / "empty"))
    missing = eds_arn.rsplit("/", 1)[0] + f"/{uuid.uuid4()}"
    expect_error("EventDataStoreNotFoundException", 404, ct.start_import, Destinations=[missing],
                 ImportSource=source(root / "empty"))
    expect_error("InvalidParameterException", 400, ct.start_import, ImportSource=source(root / "empty"))
    expect_error("ImportNotFoundException", 400, ct.get_import, ImportId=str(uuid.uuid4()))
    expect_error("ImportNotFoundException", 400, ct.stop_import, ImportId=str(uuid.uuid4()))
    expect_error("ImportNotFoundException", 400, ct.list_import_failures, ImportId=str(uuid.uuid4()))
    # An empty source completes with nothing imported; stopping a finished import changes nothing.
    done = ct.start_import(Destinations=[eds_arn], ImportSource=source(root / "empty"))["ImportId"]
    assert wait_import(ct, done)["ImportStatus"] == "COMPLETED"
    assert ct.stop_import(ImportId=done)["ImportStatus"] == "COMPLETED"
    # Another account sees none of this account's imports, and cannot read its import directory.
    other = srv.create_account()
    expect_error("ImportNotFoundException", 400, srv.ct(other).get_import, ImportId=done)
    assert srv.ct(other).list_imports()["Imports"] == []
    theirs, _ = cloudtrail_store(srv.ct(other))
    expect_error("InvalidImportSourceException", 400, srv.ct(other).start_import, Destinations=[theirs],
                 ImportSource=source(root / "empty"))
    # Missing and forbidden paths get the same answer (nothing about the host is learnt).
    msgs = {expect_error("InvalidImportSourceException", 400, ct.start_import, Destinations=[eds_arn],
                         ImportSource=source(p)).response["Error"]["Message"].split(" is not", 1)[1]
            for p in (Path("/root"), Path("/no/such/dir"), root.parent)}
    assert len(msgs) == 1, msgs
    expect_error("InvalidImportSourceException", 400, ct.start_import, Destinations=[eds_arn],
                 ImportSource={"S3": {**source(root)["S3"], "S3LocationUri": f"file://localhost{root}"}})


def test_a_server_without_an_import_dir_refuses_local_imports(server, owner, tmp_path):
    ct = server.ct(owner)
    eds_arn, _ = cloudtrail_store(ct)
    e = expect_error("InvalidImportSourceException", 400, ct.start_import, Destinations=[eds_arn],
                     ImportSource=source(tmp_path))
    assert "--import-dir" in e.response["Error"]["Message"]


def test_cairn_import_command_shows_progress_and_a_summary(importer):
    srv, root = importer
    ct = srv.ct(srv.root)
    bucket = root / "cli"
    records = real_bucket(bucket)
    (bucket / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "notes.txt").write_text("not a log file")
    _, eds = cloudtrail_store(ct)
    cmd = [str(cairn_bin()), "import", str(bucket), "--event-data-store", eds, "--endpoint", srv.endpoint,
           "--data-dir", str(srv.data_dir)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    # One bad file: the rest are imported, the file is named, and the exit code says so.
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"55 files, {len(records)} events imported, 1 failed entries" in p.stdout, p.stdout
    assert "notes.txt (InvalidFileFormat: The file is not gzip-compressed" in p.stdout, p.stdout
    assert "start-import --import-id" in p.stderr, p.stderr
    assert run_query(ct, f"SELECT COUNT(*) AS n FROM {eds}").dicts() == [{"n": str(len(records))}]
    # Retried after the bad file is gone: completes, imports nothing twice.
    (bucket / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "notes.txt").unlink()
    import_id = p.stderr.split("import ", 1)[1].split(":", 1)[0]
    ct.start_import(ImportId=import_id)
    assert wait_import(ct, import_id)["ImportStatus"] == "COMPLETED"
    assert run_query(ct, f"SELECT COUNT(*) AS n FROM {eds}").dicts() == [{"n": str(len(records))}]
    # A path outside the server's import directory is refused with the server's reason.
    p = subprocess.run([*cmd[:2], "/tmp", *cmd[3:]], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "InvalidImportSourceException" in p.stderr, p.stderr


def test_records_without_an_event_time_are_skipped_and_listed(importer):
    srv, root = importer
    ct = srv.ct(srv.root)
    logs = root / "timeless" / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1" / "2024" / "05" / "06"
    good = {"eventVersion": "1.08", "eventTime": "2024-05-06T07:08:09Z", "eventID": str(uuid.uuid4()),
            "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "userIdentity": {"type": "Root"}}
    gzip_to(json.dumps({"Records": [good, {**good, "eventTime": None}, {"eventName": "NoTime"}]}).encode(),
            logs / "mixed.json.gz")
    eds_arn, eds = cloudtrail_store(ct)
    i = ct.start_import(Destinations=[eds_arn], ImportSource=source(root / "timeless"))["ImportId"]
    g = wait_import(ct, i)
    failures = ct.list_import_failures(ImportId=i)["Failures"]
    assert g["ImportStatistics"]["EventsCompleted"] == 1 and g["ImportStatistics"]["FilesCompleted"] == 1
    assert g["ImportStatistics"]["FailedEntries"] == len(failures) == 1, (g, failures)
    assert failures[0]["ErrorType"] == "InvalidRecord" and failures[0]["ErrorMessage"].startswith("2 record(s)")
    assert failures[0]["Location"].endswith("/2024/05/06/mixed.json.gz")
    assert run_query(ct, f"SELECT eventName FROM {eds}").dicts() == [{"eventName": "GetObject"}]


def wire_rows(q) -> list:
    """The rows as GetQueryResults sent them: lists of one-key maps."""
    return [row for page in q.pages for row in page["QueryResultRows"]]


def test_cases_sql_01_and_sql_02(importer):
    """CASES.md SQL-01 (AWS sample "APIs a user called", string literals against eventTime) and SQL-02 (error counts
    on a Stratus Red Team detonation, whose made-up region must not be refused), after a file:// import."""
    srv, root = importer
    ct = srv.ct(srv.root)
    day = root / "bucket" / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "2023" / "07" / "19"
    gzip_to(ODD / "otel_cloudtrail_log.json", day / "otel.json.gz")
    # The detonation log is a bare JSON array; a trail delivers {"Records": [...]}.
    detonation = json.loads((ODD / "stratus_aws.credential-access.ec2-get-password-data.json").read_text())
    gzip_to(json.dumps({"Records": detonation}).encode(), day / "stratus.json.gz")
    eds_arn, eds = cloudtrail_store(ct)
    g = wait_import(ct, ct.start_import(Destinations=[eds_arn], ImportSource=source(root / "bucket"))["ImportId"])
    assert g["ImportStatus"] == "COMPLETED" and g["ImportStatistics"]["FilesCompleted"] == 2, (
        g, ct.list_import_failures(ImportId=g["ImportId"])["Failures"])

    creator = json.loads((ODD / "otel_cloudtrail_log.json").read_text())["Records"][1]["userIdentity"]["userName"]
    q = run_query(ct, f"SELECT eventID, eventName, eventSource, eventTime FROM {eds} WHERE userIdentity.username = "
                      f"'{creator}' AND eventTime > '2023-07-19 00:00:00' AND eventTime < '2023-07-20 00:00:00'")
    assert wire_rows(q) == [[{"eventID": "ba0801a1-87ec-4d26-be87-EXAMPLE75bbb"}, {"eventName": "CreateUser"},
                       {"eventSource": "iam.amazonaws.com"}, {"eventTime": "2023-07-19 21:25:09.000"}]]

    errors = ("SELECT errorCode, COUNT(*) AS eventCount FROM {eds} WHERE eventTime >= '2024-07-30 00:00:00' "
              "AND eventTime < '2024-07-31 00:00:00' {extra}GROUP BY errorCode ORDER BY eventCount DESC")
    q = run_query(ct, errors.format(eds=eds, extra="AND errorCode IS NOT NULL "))
    assert wire_rows(q) == [[{"errorCode": "Client.UnauthorizedOperation"}, {"eventCount": "30"}],
                      [{"errorCode": "AccessDenied"}, {"eventCount": "2"}]]
    assert {"errorCode": "", "eventCount": "2"} in run_query(ct, errors.format(eds=eds, extra="")).dicts()
    q = run_query(ct, f"SELECT eventSource, eventName, COUNT(*) AS n FROM {eds} WHERE eventTime >= '2024-07-30 00:00:00' "
                      "AND eventTime < '2024-07-31 00:00:00' GROUP BY 1, 2 ORDER BY n DESC")
    assert q.dicts() == [{"eventSource": "ec2.amazonaws.com", "eventName": "GetPasswordData", "n": "30"},
                         {"eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "n": "4"}]
