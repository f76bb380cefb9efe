"""StartImport from s3:// buckets: a real S3-compatible server (moto's server mode, started here) holds the 55 real
trail files in CloudTrail's bucket layout; Cairn reads it with its own S3 credentials, as far as the import's role
(S3BucketAccessRoleArn) lets CloudTrail: the role must trust cloudtrail.amazonaws.com, list the bucket and read each
file, and the caller must be allowed to pass it.
"""

from __future__ import annotations

import gzip
import json
import socket
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from cairn_e2e import Creds, expect_error, run_query
from test_imports import ACCOUNT, REAL, cloudtrail_store, wait_import

S3_KEYS = {"AWS_ACCESS_KEY_ID": "moto-key", "AWS_SECRET_ACCESS_KEY": "moto-secret"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3():
    """A private S3-compatible server: (endpoint, boto3 S3 client)."""
    port = free_port()
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    srv.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"])
    yield endpoint, client
    srv.stop()


@pytest.fixture
def s3_importer(private_server, s3):
    """A Cairn server that imports from the S3 server, and that S3 server's client."""
    endpoint, client = s3
    srv = private_server("s3-imports", extra_args=["--import-s3-endpoint", endpoint], env=S3_KEYS)
    return srv, client


def trail_bucket(client, bucket: str) -> list[dict]:
    """The 55 real files under AWSLogs/<acct>/CloudTrail/…, gzipped, plus a digest and another service's file (both
    ignored); returns the trail records."""
    client.create_bucket(Bucket=bucket)
    records = []
    for f in sorted(REAL.iterdir()):
        day = f.name.split("_")[3][:8]
        key = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{day[:4]}/{day[4:6]}/{day[6:8]}/{f.name}.gz"
        client.put_object(Bucket=bucket, Key=key, Body=gzip.compress(f.read_bytes()))
        records += json.loads(f.read_text())["Records"]
    client.put_object(Bucket=bucket, Key=f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2023/07/10/d.json.gz",
                      Body=gzip.compress(b'{"digestEndTime": "x"}'))
    client.put_object(Bucket=bucket, Key=f"AWSLogs/{ACCOUNT}/Config/us-east-1/c.json.gz", Body=gzip.compress(b"{}"))
    return records


def trust(service: str, account: str | None = None) -> str:
    """A trust policy for `service`; with `account`, in the confused-deputy form AWS documents for imports."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if account:
        statement["Condition"] = {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudtrail:us-east-1:{account}:eventdatastore/*"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def reads(bucket: str, *extra: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}, *extra]})


def role(iam, name: str, service: str, policy: str, account: str | None = None) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service, account))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="bucket", PolicyDocument=policy)
    return arn


def s3_source(uri: str, role_arn: str) -> dict:
    return {"S3": {"S3LocationUri": uri, "S3BucketRegion": "us-east-1", "S3BucketAccessRoleArn": role_arn}}


def test_a_bucket_imports_as_far_as_the_role_may_read_it(s3_importer):
    srv, client = s3_importer
    ct, iam = srv.ct(srv.root), srv.client("iam", srv.root)
    bucket = "trail-logs"
    records = trail_bucket(client, bucket)
    # A file the role may not read, and one that is no log file: each one failure, the rest imports.
    secret = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2099/01/01/secret.json.gz"
    hidden = {"eventVersion": "1.08", "eventTime": "2023-07-10T12:00:00Z", "eventSource": "s3.amazonaws.com",
              "eventName": "GetObject", "awsRegion": "us-east-1", "eventID": str(uuid.uuid4())}
    client.put_object(Bucket=bucket, Key=secret, Body=gzip.compress(json.dumps({"Records": [hidden]}).encode()))
    plain = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2099/01/02/plain.json"
    client.put_object(Bucket=bucket, Key=plain, Body=b'{"Records": []}')
    # A key with characters that need escaping in a URL imports like any other; a folder marker is no file.
    odd = {**hidden, "eventID": str(uuid.uuid4())}
    client.put_object(Bucket=bucket, Key=f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2023/07/11/odd é日本%41+ #?.json.gz",
                      Body=gzip.compress(json.dumps({"Records": [odd]}).encode()))
    client.put_object(Bucket=bucket, Key=f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2099/01/01/", Body=b"")
    records.append(odd)
    deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*/2099/01/01/*"}
    role_arn = role(iam, "trail-import", "cloudtrail.amazonaws.com", reads(bucket, deny), srv.root.account_id)
    eds_arn, eds = cloudtrail_store(ct)

    started = ct.start_import(Destinations=[eds_arn], ImportSource=s3_source(f"s3://{bucket}", role_arn))
    assert started["ImportSource"]["S3"]["S3LocationUri"] == f"s3://{bucket}"
    g = wait_import(ct, started["ImportId"])
    stats = g["ImportStatistics"]
    assert g["ImportStatus"] == "FAILED", g
    assert stats["FilesCompleted"] == 56 and stats["EventsCompleted"] == len(records) and stats["FailedEntries"] == 2
    failures = {f["Location"]: f for f in ct.list_import_failures(ImportId=started["ImportId"])["Failures"]}
    assert set(failures) == {f"s3://{bucket}/{secret}", f"s3://{bucket}/{plain}"}, failures
    denied = failures[f"s3://{bucket}/{secret}"]
    assert denied["ErrorType"] == "AccessDenied" and "s3:GetObject" in denied["ErrorMessage"], denied
    assert "explicit deny" in denied["ErrorMessage"], denied
    assert failures[f"s3://{bucket}/{plain}"]["ErrorType"] == "InvalidFileFormat"
    assert run_query(ct, f"SELECT COUNT(*) AS n FROM {eds}").dicts() == [{"n": str(len(records))}]
    ids = run_query(ct, f"SELECT COUNT(DISTINCT eventID) AS n FROM {eds}").dicts()
    assert ids == [{"n": str(len({r['eventID'] for r in records}))}]

    # The role may now read everything: a retry imports only what was left, as the role is now.
    iam.put_role_policy(RoleName="trail-import", PolicyName="bucket", PolicyDocument=reads(bucket))
    client.delete_object(Bucket=bucket, Key=plain)
    assert ct.start_import(ImportId=started["ImportId"])["ImportStatus"] == "INITIALIZING"
    g = wait_import(ct, started["ImportId"])
    assert g["ImportStatus"] == "COMPLETED", g
    assert g["ImportStatistics"]["FilesCompleted"] == 57 and g["ImportStatistics"]["FailedEntries"] == 0
    assert g["ImportStatistics"]["EventsCompleted"] == len(records) + 1
    assert run_query(ct, f"SELECT COUNT(*) AS n FROM {eds} WHERE eventID = '{hidden['eventID']}'").dicts() == [{"n": "1"}]
    assert run_query(ct, f"SELECT COUNT(*) AS n FROM {eds}").dicts() == [{"n": str(len(records) + 1)}]

    # A prefix inside the bucket imports only what is under it (here: nothing new into a fresh store).
    eds2_arn, eds2 = cloudtrail_store(ct)
    day = f"s3://{bucket}/AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2099/01/01/"
    g = wait_import(ct, ct.start_import(Destinations=[eds2_arn], ImportSource=s3_source(day, role_arn))["ImportId"])
    assert g["ImportStatus"] == "COMPLETED" and g["ImportStatistics"]["FilesCompleted"] == 1, g
    assert run_query(ct, f"SELECT eventID FROM {eds2}").dicts() == [{"eventID": hidden["eventID"]}]

    # A stop takes effect before the next file, and a retry never runs beside the stopped run: no event twice.
    eds3_arn, eds3 = cloudtrail_store(ct)
    again = ct.start_import(Destinations=[eds3_arn], ImportSource=s3_source(f"s3://{bucket}", role_arn))["ImportId"]
    assert ct.stop_import(ImportId=again)["ImportStatus"] == "STOPPED"
    while True:
        try:
            ct.start_import(ImportId=again)
            break
        except ClientError as e:
            assert e.response["Error"]["Code"] == "InvalidParameterException", e.response
            assert "still finishing" in e.response["Error"]["Message"], e.response
            time.sleep(0.1)
    assert wait_import(ct, again)["ImportStatus"] == "COMPLETED"
    n = run_query(ct, f"SELECT COUNT(*) AS n, COUNT(DISTINCT eventID) AS d FROM {eds3}").dicts()
    assert n == [{"n": str(len(records) + 1), "d": str(len(records) + 1)}], n


def test_s3_import_requests_are_checked(s3_importer):
    srv, client = s3_importer
    ct, iam = srv.ct(srv.root), srv.client("iam", srv.root)
    client.create_bucket(Bucket="empty-logs")
    eds_arn, _ = cloudtrail_store(ct)
    good = role(iam, "good", "cloudtrail.amazonaws.com", reads("empty-logs"))
    lambda_role = role(iam, "for-lambda", "lambda.amazonaws.com", reads("empty-logs"))
    no_list = role(iam, "no-list", "cloudtrail.amazonaws.com", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::empty-logs/*"}]}))
    anywhere = role(iam, "anywhere", "cloudtrail.amazonaws.com", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}]}))

    def refused(uri: str, role_arn: str, *words: str, code: str = "InvalidImportSourceException"):
        e = expect_error(code, None, ct.start_import, Destinations=[eds_arn], ImportSource=s3_source(uri, role_arn))
        message = e.response["Error"]["Message"]
        assert all(w in message for w in words), message

    refused("s3://empty-logs", lambda_role, "does not let cloudtrail.amazonaws.com assume it")
    refused("s3://empty-logs", f"arn:aws:iam::{srv.root.account_id}:role/missing", "There is no role")
    refused("s3://empty-logs", f"arn:aws:iam::999999999999:role/good", "another account")
    refused("s3://empty-logs", no_list, "cannot list", "s3:ListBucket")
    refused("S3://empty-logs", good, "neither s3://bucket/prefix nor file:///absolute/path")
    # A list permission scoped to a prefix, as least privilege has it.
    scoped = role(iam, "scoped", "cloudtrail.amazonaws.com", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::empty-logs",
         "Condition": {"StringLike": {"s3:prefix": "AWSLogs/*"}}}]}))
    refused("s3://empty-logs", scoped, "cannot list")
    g = wait_import(ct, ct.start_import(Destinations=[eds_arn], ImportSource=s3_source("s3://empty-logs/AWSLogs/", scoped))["ImportId"])
    assert g["ImportStatus"] == "COMPLETED", g
    refused("s3://Not_A_Bucket/x", good, "not a valid S3 bucket name")
    refused("s3://other-bucket", good, "cannot list")
    assert len(ct.list_imports()["Imports"]) == 1  # the scoped one: the refusals left nothing behind

    # Passing the role to CloudTrail takes iam:PassRole.
    user = f"importer-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="trail", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "cloudtrail:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = srv.ct(Creds(srv.root.account_id, key["AccessKeyId"], key["SecretAccessKey"]))
    e = expect_error("AccessDeniedException", 403, as_user.start_import, Destinations=[eds_arn],
                     ImportSource=s3_source("s3://empty-logs", good))
    assert "iam:PassRole" in e.response["Error"]["Message"]
    iam.put_user_policy(UserName=user, PolicyName="pass", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": good,
         "Condition": {"StringEquals": {"iam:PassedToService": "cloudtrail.amazonaws.com"}}}]}))
    done = as_user.start_import(Destinations=[eds_arn], ImportSource=s3_source("s3://empty-logs", good))["ImportId"]
    g = wait_import(ct, done)
    assert g["ImportStatus"] == "COMPLETED" and g["ImportStatistics"]["FilesCompleted"] == 0, g

    # A bucket the S3 server does not have: the import fails, and says why.
    gone = ct.start_import(Destinations=[eds_arn], ImportSource=s3_source("s3://no-such-bucket", anywhere))["ImportId"]
    g = wait_import(ct, gone)
    assert g["ImportStatus"] == "FAILED", g
    [failure] = ct.list_import_failures(ImportId=gone)["Failures"]
    assert failure["Location"] == "s3://no-such-bucket" and "no such bucket" in failure["ErrorMessage"], failure
    # A retry is checked like a new import: a role that no longer trusts CloudTrail is refused at once.
    iam.update_assume_role_policy(RoleName="anywhere", PolicyDocument=trust("lambda.amazonaws.com"))
    e = expect_error("InvalidImportSourceException", 400, ct.start_import, ImportId=gone)
    assert "does not let cloudtrail.amazonaws.com" in e.response["Error"]["Message"]
    assert ct.get_import(ImportId=gone)["ImportStatus"] == "FAILED"
    assert "127.0.0.1" not in failure["ErrorMessage"], failure  # nothing of the operator's endpoint


def test_a_server_stopped_mid_import_saves_its_progress(s3_importer):
    """SIGTERM during an import: the import saves what it did before the next file, is FAILED at the next start with
    a failure saying why, and its retry imports the rest: no event twice."""
    srv, client = s3_importer
    ct, iam = srv.ct(srv.root), srv.client("iam", srv.root)
    records = trail_bucket(client, "stopped-logs")
    role_arn = role(iam, "stopped-import", "cloudtrail.amazonaws.com", reads("stopped-logs"))
    eds_arn, eds = cloudtrail_store(ct)
    imp = ct.start_import(Destinations=[eds_arn], ImportSource=s3_source("s3://stopped-logs", role_arn))["ImportId"]
    time.sleep(0.3)
    srv.restart()
    ct = srv.ct(srv.root)
    g = ct.get_import(ImportId=imp)
    if g["ImportStatus"] == "FAILED":  # it was still running when the server stopped (as a rule)
        failures = ct.list_import_failures(ImportId=imp)["Failures"]
        assert [f["ErrorType"] for f in failures] == ["ImportInterrupted"], failures
        ct.start_import(ImportId=imp)
        g = wait_import(ct, imp)
    assert g["ImportStatus"] == "COMPLETED", g
    n = run_query(ct, f"SELECT COUNT(*) AS n, COUNT(DISTINCT eventID) AS d FROM {eds}").dicts()
    assert n == [{"n": str(len(records)), "d": str(len(records))}], n
