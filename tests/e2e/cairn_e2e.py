"""Helpers for Cairn's end-to-end tests: a real `cairn serve`, boto3 clients, the AWS CLI, raw SigV4 requests.

Everything here talks to the server only through its public surface (HTTP with SigV4, the `cairn` CLI and the
data directory's `root-credentials` file), exactly as a user would.
"""

from __future__ import annotations

import base64
import configparser
import dataclasses
import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import quote

import boto3
import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REGION = "us-east-1"
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CAIRN_SHARED") or Path(__file__).resolve().parents[3] / "shared")

INTEGRATION_SELECTORS = [
    {"Name": "i", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["ActivityAuditLog"]}]}
]
MANAGEMENT_SELECTORS = [
    {"Name": "m", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
]

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ACCOUNT_RE = re.compile(r"^\d{12}$")
CT_TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
SMITHY_TARGET_PREFIX = "CloudTrail_20131101."


def out_dir() -> Path:
    """Where artefacts for the closing note go: ${CARGO_TARGET_DIR:-target} (absolute)."""
    d = os.environ.get("CAIRN_E2E_OUT") or os.environ.get("CARGO_TARGET_DIR") or str(REPO_ROOT / "target")
    p = Path(d)
    if not p.is_absolute():
        p = REPO_ROOT / p
    p.mkdir(parents=True, exist_ok=True)
    return p


def cairn_bin() -> Path:
    env = os.environ.get("CAIRN_BIN")
    if env:
        return Path(env)
    target = os.environ.get("CARGO_TARGET_DIR") or str(REPO_ROOT / "target")
    p = Path(target)
    if not p.is_absolute():
        p = REPO_ROOT / p
    return p / "debug" / "cairn"


# ------------------------------------------------------------------------------------------------
# credentials and accounts


@dataclasses.dataclass(frozen=True)
class Creds:
    account_id: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    @property
    def root_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:root"


def read_root_credentials(data_dir: Path) -> Creds:
    path = Path(data_dir) / "root-credentials"
    cp = configparser.ConfigParser()
    with open(path, encoding="utf-8") as f:
        cp.read_file(f)
    sec = cp["default"]
    return Creds(sec["aws_account_id"], sec["aws_access_key_id"], sec["aws_secret_access_key"])


def create_account(data_dir: Path, name: str) -> Creds:
    """`cairn accounts create --data-dir D --name N` (works while the server runs)."""
    proc = subprocess.run(
        [str(cairn_bin()), "accounts", "create", "--data-dir", str(data_dir), "--name", name],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"cairn accounts create failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    # The JSON object may be the whole stdout or its last line.
    doc = None
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        for line in reversed(proc.stdout.strip().splitlines()):
            try:
                doc = json.loads(line)
                break
            except json.JSONDecodeError:
                continue
    assert isinstance(doc, dict), f"cairn accounts create did not print a JSON object:\n{proc.stdout}"
    for key in ("AccountId", "AccessKeyId", "SecretAccessKey"):
        assert key in doc, f"`cairn accounts create` output lacks {key}: {doc}"
    return Creds(doc["AccountId"], doc["AccessKeyId"], doc["SecretAccessKey"])


# ------------------------------------------------------------------------------------------------
# the server process


class CairnServer:
    """A real `cairn serve` on 127.0.0.1:0 with its own data directory."""

    def __init__(self, data_dir: Path, log_dir: Path, region: str = REGION, extra_args: Iterable[str] = (),
                 env: dict[str, str] | None = None):
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.region = region
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self.endpoint: str | None = None
        self.starts = 0
        self.log_path: Path | None = None

    # -- lifecycle
    def start(self, timeout: float = 60.0) -> "CairnServer":
        binary = cairn_bin()
        if not binary.exists():
            pytest.fail(f"cairn binary not found at {binary}: build it with `cargo build -p cairn` (or set CAIRN_BIN)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self.log_path = self.log_dir / f"cairn-serve-{self.starts}.log"
        log = open(self.log_path, "wb")
        cmd = [
            str(binary),
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--listen",
            "127.0.0.1:0",
            "--region",
            self.region,
            *self.extra_args,
        ]
        env = {**os.environ, **self.env}
        env.setdefault("RUST_BACKTRACE", "1")
        env.setdefault("NO_COLOR", "1")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        pat = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
        while True:
            text = self.log_text()
            m = pat.search(text)
            if m:
                self.endpoint = m.group(1)
                break
            if self.proc.poll() is not None:
                raise AssertionError(f"cairn serve exited with {self.proc.returncode} before listening:\n{text}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"cairn serve did not print 'listening on http://…' within {timeout}s:\n{text}")
            time.sleep(0.02)
        # Wait until it answers HTTP at all (any status is fine: an unsigned request is refused with 403).
        http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=1, read=5))
        while True:
            try:
                http.request("POST", self.endpoint + "/", body=b"{}")
                break
            except urllib3.exceptions.HTTPError:
                if self.proc.poll() is not None:
                    raise AssertionError(f"cairn serve exited with {self.proc.returncode}:\n{self.log_text()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"cairn serve does not answer on {self.endpoint}:\n{self.log_text()}")
                time.sleep(0.02)
        return self

    def log_text(self) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` seconds. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, kill: bool = False) -> "CairnServer":
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- identities
    @property
    def root(self) -> Creds:
        return read_root_credentials(self.data_dir)

    def create_account(self, name: str | None = None) -> Creds:
        return create_account(self.data_dir, name or f"acct-{uuid.uuid4().hex[:10]}")

    # -- clients
    def client(self, service: str, creds: Creds, **config: Any):
        return make_client(self.endpoint, service, creds, **config)

    def ct(self, creds: Creds, **config: Any):
        return self.client("cloudtrail", creds, **config)

    def ctd(self, creds: Creds, **config: Any):
        return self.client("cloudtrail-data", creds, **config)


def make_client(endpoint: str, service: str, creds: Creds, *, retries: dict | None = None, **config: Any):
    """A boto3 client against Cairn. Retries are off unless `retries` is given, so errors surface at once."""
    cfg = Config(
        region_name=REGION,
        retries=retries or {"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        **config,
    )
    session = boto3.session.Session(
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
        region_name=REGION,
    )
    return session.client(service, endpoint_url=endpoint, config=cfg)


# ------------------------------------------------------------------------------------------------
# errors


def expect_error(codes: str | Iterable[str], status: int | Iterable[int] | None, fn: Callable, *args, **kwargs) -> ClientError:
    """Call fn, assert it raises a ClientError with one of `codes` (and HTTP status), return the error."""
    codes = {codes} if isinstance(codes, str) else set(codes)
    try:
        result = fn(*args, **kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        got_status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        assert err.get("Code") in codes, (
            f"expected error {sorted(codes)}, got {err.get('Code')!r} (HTTP {got_status}): {err.get('Message')!r}"
        )
        if status is not None:
            statuses = {status} if isinstance(status, int) else set(status)
            assert got_status in statuses, f"{err.get('Code')}: expected HTTP {sorted(statuses)}, got {got_status}"
        assert err.get("Message"), f"{err.get('Code')} has an empty message"
        return e
    strip = {k: v for k, v in (result or {}).items() if k != "ResponseMetadata"} if isinstance(result, dict) else result
    raise AssertionError(f"expected error {sorted(codes)}, but the call succeeded: {strip}")


def error_message(e: ClientError) -> str:
    return e.response.get("Error", {}).get("Message", "")


# ------------------------------------------------------------------------------------------------
# integration events


class _Delete:
    pass


DELETE = _Delete()


def event_data(uid: str, recipient: str, over: dict | None = None, **kw: Any) -> str:
    """CASES' ED1 with a given UID and recipient; `over` sets dotted paths (`userIdentity.type`) or deletes them (DELETE).

    Compact JSON, key order as in CASES so that event_data("evt-0001", "111122223333") is ED1 byte for byte.
    """
    d: dict[str, Any] = {
        "version": "1.0",
        "userIdentity": {"type": "CustomUser", "principalId": "alice"},
        "eventSource": "myapp.example.com",
        "eventName": "Login",
        "eventTime": "2024-01-15T11:59:00Z",
        "UID": uid,
        "recipientAccountId": recipient,
    }
    for path, value in {**(over or {}), **kw}.items():
        keys = path.replace("__", ".").split(".")
        cur = d
        for k in keys[:-1]:
            cur = cur.setdefault(k, {})
        if value is DELETE:
            cur.pop(keys[-1], None)
        else:
            cur[keys[-1]] = value
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def checksum(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def audit_event(id_: str, data: str, with_checksum: bool = False) -> dict:
    ev = {"id": id_, "eventData": data}
    if with_checksum:
        ev["eventDataChecksum"] = checksum(data)
    return ev


def assert_partition(resp: dict, ids: Iterable[str]) -> tuple[dict, dict]:
    """Every input id is in exactly one of successful/failed; returns ({id: eventID}, {id: failed-entry})."""
    ids = list(ids)
    assert "successful" in resp and "failed" in resp, f"response must carry both lists: {resp}"
    ok = {e["id"]: e for e in resp["successful"]}
    bad = {e["id"]: e for e in resp["failed"]}
    assert len(ok) == len(resp["successful"]), f"an id appears twice in successful: {resp['successful']}"
    assert len(bad) == len(resp["failed"]), f"an id appears twice in failed: {resp['failed']}"
    assert not (set(ok) & set(bad)), f"ids in both lists: {set(ok) & set(bad)}"
    assert set(ok) | set(bad) == set(ids), (
        f"ids missing from the response: {set(ids) - set(ok) - set(bad)}; unknown ids: {(set(ok) | set(bad)) - set(ids)}"
    )
    for e in resp["successful"]:
        assert UUID_RE.match(e.get("eventID", "")), f"successful entry without a UUID eventID: {e}"
    event_ids = [e["eventID"] for e in resp["successful"]]
    assert len(set(event_ids)) == len(event_ids), f"eventIDs not unique: {event_ids}"
    for e in resp["failed"]:
        assert 1 <= len(e.get("errorCode", "")) <= 128, f"bad errorCode: {e}"
        assert 1 <= len(e.get("errorMessage", "")) <= 1024, f"bad errorMessage: {e}"
    return {k: v["eventID"] for k, v in ok.items()}, bad


# ------------------------------------------------------------------------------------------------
# control-plane fixtures as plain functions


@dataclasses.dataclass
class Integration:
    eds_arn: str
    eds_id: str
    channel_arn: str
    channel_id: str
    owner: Creds


def create_integration_eds(ct, name: str | None = None, **kw) -> dict:
    # Retention counts from each event's eventTime (as AWS does): the fixtures (2024) and the real
    # records (2023-2024) are older than the default 366 days, so keep ten years unless a test says otherwise.
    kw.setdefault("RetentionPeriod", 3653)
    return ct.create_event_data_store(
        Name=name or f"eds-{uuid.uuid4().hex[:12]}", AdvancedEventSelectors=INTEGRATION_SELECTORS, **kw
    )


def create_channel(ct, eds_arn: str, name: str | None = None, **kw) -> dict:
    return ct.create_channel(
        Name=name or f"chan-{uuid.uuid4().hex[:12]}",
        Source="Custom",
        Destinations=[{"Type": "EVENT_DATA_STORE", "Location": eds_arn}],
        **kw,
    )


def setup_integration(ct, owner: Creds) -> Integration:
    eds = create_integration_eds(ct)
    chan = create_channel(ct, eds["EventDataStoreArn"])
    return Integration(
        eds_arn=eds["EventDataStoreArn"],
        eds_id=eds["EventDataStoreArn"].rsplit("/", 1)[-1],
        channel_arn=chan["ChannelArn"],
        channel_id=chan["ChannelArn"].rsplit("/", 1)[-1],
        owner=owner,
    )


# ------------------------------------------------------------------------------------------------
# queries


TERMINAL = {"FINISHED", "FAILED", "CANCELLED", "TIMED_OUT"}


@dataclasses.dataclass
class QueryResult:
    query_id: str
    rows: list[list[tuple[str, str]]]
    describe: dict
    pages: list[dict]

    def dicts(self) -> list[dict[str, str]]:
        return [dict(r) for r in self.rows]

    def column(self, name: str) -> list[str]:
        return [dict(r)[name] for r in self.rows]


def wait_query(ct, query_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        d = ct.describe_query(QueryId=query_id)
        if d.get("QueryStatus") in TERMINAL:
            return d
        assert time.monotonic() < deadline, f"query {query_id} still {d.get('QueryStatus')} after {timeout}s"
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def run_query(ct, sql: str, page_size: int | None = None, timeout: float = 60.0) -> QueryResult:
    qid = ct.start_query(QueryStatement=sql)["QueryId"]
    assert re.fullmatch(r"[a-f0-9-]{36}", qid), f"QueryId must be 36 chars [a-f0-9-]: {qid!r}"
    d = wait_query(ct, qid, timeout)
    assert d["QueryStatus"] == "FINISHED", f"query {sql!r} ended {d['QueryStatus']}: {d.get('ErrorMessage')}"
    rows: list[list[tuple[str, str]]] = []
    pages = []
    token = None
    for _ in range(10_000):
        kw: dict[str, Any] = {"QueryId": qid}
        if token:
            kw["NextToken"] = token
        if page_size:
            kw["MaxQueryResults"] = page_size
        page = ct.get_query_results(**kw)
        pages.append(page)
        for row in page.get("QueryResultRows", []):
            cells = []
            for cell in row:
                assert isinstance(cell, dict) and len(cell) == 1, f"each cell must be a single-key map: {row}"
                (k, v), = cell.items()
                assert isinstance(v, str), f"all values must be strings: {cell}"
                cells.append((k, v))
            rows.append(cells)
        token = page.get("NextToken")
        if not token:
            break
    return QueryResult(qid, rows, d, pages)


def count_rows(ct, eds_id: str, where: str = "") -> int:
    r = run_query(ct, f"SELECT COUNT(*) FROM {eds_id} {where}")
    assert len(r.rows) == 1, r.rows
    return int(r.rows[0][0][1])


# ------------------------------------------------------------------------------------------------
# raw signed HTTP (to see status lines, headers and bodies exactly, and to send what boto3 will not)


@dataclasses.dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


_http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=60))


def raw_request(
    endpoint: str,
    method: str,
    path: str,
    *,
    query: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    creds: Creds | None = None,
    service: str = "cloudtrail",
    region: str = REGION,
    mutate: Callable[[dict[str, str]], None] | None = None,
) -> RawResponse:
    url = endpoint + path
    if query:
        url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    hdrs = dict(headers or {})
    if creds is not None:
        req = AWSRequest(method=method, url=url, data=body, headers=hdrs)
        SigV4Auth(Credentials(creds.access_key_id, creds.secret_access_key, creds.session_token), service, region).add_auth(req)
        hdrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in req.headers.items()}
    if mutate:
        mutate(hdrs)
    r = _http.request(method, url, body=body, headers=hdrs)
    return RawResponse(r.status, {k.lower(): v for k, v in r.headers.items()}, r.data)


def raw_put_audit_events(
    endpoint: str,
    creds: Creds | None,
    channel_arn: str | None,
    body: Any,
    external_id: str | None = None,
    **kw,
) -> RawResponse:
    query = []
    if channel_arn is not None:
        query.append(("channelArn", channel_arn))
    if external_id is not None:
        query.append(("externalId", external_id))
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw_request(
        endpoint,
        "POST",
        "/PutAuditEvents",
        query=query,
        headers={"Content-Type": "application/json"},
        body=data,
        creds=creds,
        service="cloudtrail-data",
        **kw,
    )


def raw_cloudtrail(endpoint: str, creds: Creds | None, op: str, params: dict, target_prefix: str = CT_TARGET_PREFIX, **kw) -> RawResponse:
    return raw_request(
        endpoint,
        "POST",
        "/",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target_prefix + op},
        body=json.dumps(params).encode(),
        creds=creds,
        service="cloudtrail",
        **kw,
    )


def assert_rest_json_error(r: RawResponse, code: str | Iterable[str], status: int = 400) -> dict:
    """restJson1 error: HTTP status, x-amzn-ErrorType, JSON body {"__type","message"}."""
    codes = {code} if isinstance(code, str) else set(code)
    text = r.body.decode("utf-8", "replace")
    assert r.status == status, f"expected HTTP {status} {sorted(codes)}, got {r.status}: {text}"
    try:
        body = r.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {text!r}")
    typ = str(body.get("__type", "")).split(":")[0].rsplit("#", 1)[-1]
    assert typ in codes, f"expected __type in {sorted(codes)}, got {body}"
    assert isinstance(body.get("message"), str) and body["message"], f"error body needs a non-empty 'message': {body}"
    et = r.headers.get("x-amzn-errortype")
    if et is not None:
        assert et.split(":")[0] in codes, f"x-amzn-ErrorType {et!r} disagrees with __type {typ!r}"
    return body


# ------------------------------------------------------------------------------------------------
# AWS CLI


@dataclasses.dataclass
class CliResult:
    rc: int
    out: Any
    stdout: str
    stderr: str
    display: str

    def error_code(self) -> str | None:
        m = re.search(r"An error occurred \(([^)]+)\)", self.stderr)
        return m.group(1) if m else None


def aws_exe() -> str:
    cand = Path(sys.executable).parent / "aws"
    if cand.exists():
        return str(cand)
    import shutil

    found = shutil.which("aws")
    assert found, "the AWS CLI is not installed in this environment (tests/e2e/run installs it)"
    return found


def run_aws(
    endpoint: str,
    args: list[str],
    *,
    creds: Creds | None = None,
    credentials_file: Path | None = None,
    profile: str | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    display_prefix: str = "",
) -> CliResult:
    """Run `aws --endpoint-url … <args> --output json` with a clean, explicit environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE="/dev/null",
        AWS_DEFAULT_REGION=REGION,
        AWS_SHARED_CREDENTIALS_FILE=str(credentials_file) if credentials_file else "/dev/null",
        AWS_RETRY_MODE="standard",
        AWS_MAX_ATTEMPTS="1",
        AWS_PAGER="",
    )
    if creds:
        env.update(AWS_ACCESS_KEY_ID=creds.access_key_id, AWS_SECRET_ACCESS_KEY=creds.secret_access_key)
        if creds.session_token:
            env.update(AWS_SESSION_TOKEN=creds.session_token)
    prof = ["--profile", profile] if profile else []
    cmd = [aws_exe(), *prof, "--endpoint-url", endpoint, *args, "--output", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    out = None
    if proc.stdout.strip():
        try:
            out = json.loads(proc.stdout)
        except json.JSONDecodeError:
            out = None
    shown = " ".join(shlex.quote(a) for a in ["aws", *prof, "--endpoint-url", endpoint, *args, "--output", "json"])
    display = f"$ {display_prefix}{shown}\n"
    if proc.stdout.strip():
        display += proc.stdout.rstrip() + "\n"
    if proc.stderr.strip():
        display += proc.stderr.rstrip() + "\n"
    display += f"(exit code {proc.returncode})\n"
    return CliResult(proc.returncode, out, proc.stdout, proc.stderr, display)


# ------------------------------------------------------------------------------------------------
# misc


def wait_for(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        v = pred()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(delay)
        delay = min(delay * 2, 0.25)
