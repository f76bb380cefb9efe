"""SigV4 on every request, seen through boto3 and raw HTTP (CASES SIG-*; SPEC §1, §2)."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
import uuid

import botocore.auth
import botocore.compat
import pytest

from cairn_e2e import (
    CT_TARGET_PREFIX,
    Creds,
    audit_event,
    event_data,
    expect_error,
    raw_cloudtrail,
    raw_put_audit_events,
    raw_request,
)

EXPIRED_RE = re.compile(
    r"Signature expired: (\d{8}T\d{6}Z) is now earlier than (\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) - 5 min\.\)")
NOT_YET_RE = re.compile(
    r"Signature not yet current: (\d{8}T\d{6}Z) is still later than (\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) \+ 5 min\.\)")


def _ts(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _skew(monkeypatch, offset: dt.timedelta):
    """Make botocore's signer believe the clock is off by `offset` (the signer reads botocore.auth.get_current_datetime)."""
    original = botocore.compat.get_current_datetime

    def skewed(*a, **kw):
        return original(*a, **kw) + offset

    monkeypatch.setattr(botocore.auth, "get_current_datetime", skewed)


def _put_kwargs(integ, owner):
    return dict(channelArn=integ.channel_arn,
                auditEvents=[audit_event("a1", event_data(f"sig-{uuid.uuid4().hex}", owner.account_id))])


# ------------------------------------------------------------------------------------------------
# who are you


@pytest.mark.parametrize("service", ["cloudtrail", "cloudtrail-data"])
def test_unknown_access_key(server, integ, owner, service):
    stranger = Creds("000000000000", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    if service == "cloudtrail":
        expect_error("UnrecognizedClientException", 403, server.ct(stranger).list_channels)
    else:
        expect_error("UnrecognizedClientException", 403, server.ctd(stranger).put_audit_events, **_put_kwargs(integ, owner))


@pytest.mark.parametrize("service", ["cloudtrail", "cloudtrail-data"])
def test_wrong_secret_key(server, integ, owner, service):
    wrong = Creds(owner.account_id, owner.access_key_id, owner.secret_access_key[:-4] + "XXXX")
    if service == "cloudtrail":
        e = expect_error("InvalidSignatureException", 403, server.ct(wrong).list_channels)
    else:
        e = expect_error("InvalidSignatureException", 403, server.ctd(wrong).put_audit_events, **_put_kwargs(integ, owner))
    assert "signature" in e.response["Error"]["Message"].lower()


@pytest.mark.parametrize("service", ["cloudtrail", "cloudtrail-data"])
def test_missing_authentication(server, integ, owner, service):
    if service == "cloudtrail":
        r = raw_cloudtrail(server.endpoint, None, "ListChannels", {})
    else:
        r = raw_put_audit_events(server.endpoint, None, integ.channel_arn, {"auditEvents": []})
    assert r.status == 403, (r.status, r.body)
    body = r.json()
    code = r.headers.get("x-amzn-errortype", "").split(":")[0] or str(body.get("__type")).rsplit("#", 1)[-1]
    assert code == "MissingAuthenticationTokenException", (r.headers, body)
    assert body.get("message") or body.get("Message")


@pytest.mark.parametrize(
    "auth",
    [
        "AWS4-HMAC-SHA256 Credential={ak}/{day}/us-east-1/cloudtrail/aws4_request",
        "AWS4-HMAC-SHA256 Credential={ak}/{day}/us-east-1/cloudtrail/aws4_request, SignedHeaders=host;x-amz-date",
        "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    ],
    ids=["credential-only", "no-signature", "no-credential"],
)
def test_incomplete_signature(server, owner, auth):
    now = _now()
    hdrs = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": CT_TARGET_PREFIX + "ListChannels",
        "X-Amz-Date": now.strftime("%Y%m%dT%H%M%SZ"),
        "Authorization": auth.format(ak=owner.access_key_id, day=now.strftime("%Y%m%d")),
    }
    r = raw_request(server.endpoint, "POST", "/", headers=hdrs, body=b"{}")
    assert r.status == 400, (r.status, r.body)
    assert str(r.json().get("__type")).rsplit("#", 1)[-1] == "IncompleteSignatureException", r.body


def test_missing_date_header_is_incomplete(server, owner):
    def drop_date(h):
        for k in list(h):
            if k.lower() in ("x-amz-date", "date"):
                del h[k]

    r = raw_cloudtrail(server.endpoint, owner, "ListChannels", {}, mutate=drop_date)
    assert r.status in (400, 403), (r.status, r.body)
    assert str(r.json().get("__type")).rsplit("#", 1)[-1] in ("IncompleteSignatureException", "InvalidSignatureException")


# ------------------------------------------------------------------------------------------------
# tampering after signing


def _tamper_signature(request, **_):
    auth = request.headers["Authorization"]
    auth = auth.decode() if isinstance(auth, bytes) else auth
    sig = auth[-1]
    request.headers["Authorization"] = auth[:-1] + ("0" if sig != "0" else "1")


def _tamper_body(request, **_):
    body = request.body
    body = body.encode() if isinstance(body, str) else body
    i = body.index(b"Login")
    request.body = body[:i] + b"Logon" + body[i + 5:]


def test_tampered_signature(server, owner, integ):
    ct = server.ct(owner)
    ct.meta.events.register("before-send.cloudtrail.*", _tamper_signature)
    expect_error("InvalidSignatureException", 403, ct.list_channels)
    ctd = server.ctd(owner)
    ctd.meta.events.register("before-send.cloudtrail-data.*", _tamper_signature)
    expect_error("InvalidSignatureException", 403, ctd.put_audit_events, **_put_kwargs(integ, owner))


def test_tampered_body(server, owner, integ):
    ctd = server.ctd(owner)
    ctd.meta.events.register("before-send.cloudtrail-data.*", _tamper_body)
    expect_error("InvalidSignatureException", 403, ctd.put_audit_events, **_put_kwargs(integ, owner))


def test_tampered_query_string(server, owner, integ):
    other_chan = integ.channel_arn[:-1] + ("0" if integ.channel_arn[-1] != "0" else "1")

    def swap_query(request, **_):
        request.url = request.url.replace(integ.channel_id, other_chan.rsplit("/", 1)[-1])

    ctd = server.ctd(owner)
    ctd.meta.events.register("before-send.cloudtrail-data.*", swap_query)
    expect_error("InvalidSignatureException", 403, ctd.put_audit_events, **_put_kwargs(integ, owner))


def test_unsigned_extra_header_is_ignored(server, owner):
    def add_header(h):
        h["X-Not-Signed"] = "anything"
        h["User-Agent"] = "something-else/1.0"

    r = raw_cloudtrail(server.endpoint, owner, "ListChannels", {}, mutate=add_header)
    assert r.status == 200, r.body


def test_credential_scope_must_match(server, owner):
    # Signed for another region, or for another service: refused.
    r = raw_cloudtrail(server.endpoint, owner, "ListChannels", {}, region="eu-west-1")
    assert r.status == 403, (r.status, r.body)
    assert str(r.json().get("__type")).rsplit("#", 1)[-1] == "InvalidSignatureException", r.body
    r = raw_request(server.endpoint, "POST", "/", creds=owner, service="s3",
                    headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": CT_TARGET_PREFIX + "ListChannels"},
                    body=b"{}")
    assert 400 <= r.status < 500, (r.status, r.body)


def test_query_parameters_needing_encoding_verify(server, owner, integ):
    """SIG-01 vector 2's externalId: botocore percent-encodes it; the server must re-encode identically."""
    resp = server.ctd(owner).put_audit_events(externalId="ext=Id:with/special@chars", **_put_kwargs(integ, owner))
    assert resp["failed"] == [] and len(resp["successful"]) == 1


def test_non_ascii_body_verifies(server, owner, integ):
    data = event_data(f"sig-{uuid.uuid4().hex}", owner.account_id, {"userIdentity.principalId": "josé 日本"})
    r = raw_put_audit_events(server.endpoint, owner, integ.channel_arn,
                             json.dumps({"auditEvents": [{"id": "n1", "eventData": data}]}, ensure_ascii=False).encode())
    assert r.status == 200, r.body
    assert r.json()["failed"] == []


# ------------------------------------------------------------------------------------------------
# clock skew


@pytest.mark.parametrize("service", ["cloudtrail", "cloudtrail-data"])
def test_signature_expired(server, owner, integ, monkeypatch, service):
    _skew(monkeypatch, -dt.timedelta(minutes=10))
    real = _now()
    if service == "cloudtrail":
        e = expect_error("InvalidSignatureException", 403, server.ct(owner).list_channels)
    else:
        e = expect_error("InvalidSignatureException", 403, server.ctd(owner).put_audit_events, **_put_kwargs(integ, owner))
    msg = e.response["Error"]["Message"]
    m = EXPIRED_RE.search(msg)
    assert m, f"expected AWS's 'Signature expired: … is now earlier than … (… - 5 min.)' form, got {msg!r}"
    sent, earliest, server_now = (_ts(x) for x in m.groups())
    assert server_now - earliest == dt.timedelta(minutes=5)
    assert abs(server_now - real) < dt.timedelta(seconds=30)
    assert abs(sent - (real - dt.timedelta(minutes=10))) < dt.timedelta(seconds=30)


def test_signature_not_yet_current(server, owner, monkeypatch):
    _skew(monkeypatch, dt.timedelta(minutes=10))
    e = expect_error("InvalidSignatureException", 403, server.ct(owner).list_channels)
    msg = e.response["Error"]["Message"]
    m = NOT_YET_RE.search(msg)
    assert m, f"expected 'Signature not yet current: … is still later than … (… + 5 min.)', got {msg!r}"
    sent, latest, server_now = (_ts(x) for x in m.groups())
    assert latest - server_now == dt.timedelta(minutes=5)
    assert sent > latest


@pytest.mark.parametrize("minutes", [-4, 4])
def test_skew_inside_window_is_accepted(server, owner, monkeypatch, minutes):
    _skew(monkeypatch, dt.timedelta(minutes=minutes))
    server.ct(owner).list_channels()


def test_clock_skew_correction_and_retry(server, owner, integ, monkeypatch):
    """What a clock-correcting SDK does: read the server's time from the refusal, fix its offset, resign, retry.

    botocore 1.44 itself has no clock-skew correction (no retry on InvalidSignatureException), so with
    retries enabled a skewed boto3 client gets the error after exactly one attempt; SDKs that do correct
    (Java, JS, Rust) use the error's Date header / the timestamps in AWS's message. Both must be right.
    """
    offset = -dt.timedelta(minutes=17)
    _skew(monkeypatch, offset)
    attempts = []
    ct = server.ct(owner, retries={"mode": "standard", "total_max_attempts": 3})
    ct.meta.events.register("before-send.cloudtrail.*", lambda request, **_: attempts.append(1))
    e = expect_error("InvalidSignatureException", 403, ct.list_channels)
    assert len(attempts) == 1, "an expired signature is not a transient error: botocore must not retry it"

    # The error carries the server's clock twice: in the Date header and in the message.
    date_hdr = e.response["ResponseMetadata"]["HTTPHeaders"].get("date")
    assert date_hdr, "responses must carry a Date header (clock-skew correction reads it)"
    server_date = email.utils.parsedate_to_datetime(date_hdr)
    assert abs(server_date - _now()) < dt.timedelta(seconds=30)
    m = EXPIRED_RE.search(e.response["Error"]["Message"])
    assert m, e.response["Error"]["Message"]
    sent, _, server_now = (_ts(x) for x in m.groups())

    # Correct the clock as the SDKs do and retry: accepted, for both services.
    correction = server_now - sent
    _skew(monkeypatch, offset + correction)
    server.ct(owner).list_channels()
    assert server.ctd(owner).put_audit_events(**_put_kwargs(integ, owner))["failed"] == []
