#!/usr/bin/env python3
"""Captures requests exactly as boto3's botocore and the AWS CLI's vendored
botocore sign and send them, for crates/sigv4/tests/captured.rs.

    target/e2e-venv/bin/python crates/sigv4/tests/captured/capture.py > crates/sigv4/tests/captured/requests.json

No request leaves the process: a before-send hook records the prepared
request and answers with a canned response.
"""
import base64
import json
import sys

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CHANNEL = "arn:aws:cloudtrail:us-east-1:111122223333:channel/EXAMPLE8-0558-4f7e-a06a-43969EXAMPLE"
EVENT = '{"version":"1.0","userIdentity":{"type":"CustomUser","principalId":"jos\u00e9@example.com"},"eventSource":"myapp","eventName":"Login","eventTime":"2024-01-15T11:59:00Z","UID":"evt 0001+x","recipientAccountId":"111122223333"}'


def capture(session_module, client_name):
    captured = []

    def before_send(request, **_):
        captured.append({
            "client": client_name,
            "method": request.method,
            "url": request.url,
            "headers": [[k, v.decode() if isinstance(v, bytes) else v] for k, v in request.headers.items()],
            "body_b64": base64.b64encode(request.body or b"").decode(),
        })
        aws_response = __import__(session_module.__name__.rsplit(".", 1)[0] + ".awsrequest", fromlist=["AWSResponse"])
        return aws_response.AWSResponse(request.url, 200, {}, _Raw(b'{"successful":[],"failed":[]}'))

    session = session_module.get_session()
    session.set_credentials("AKIDEXAMPLE", SECRET, token=None)
    for service, call in (
        ("cloudtrail-data", lambda c: c.put_audit_events(
            channelArn=CHANNEL, externalId="ext=Id:with/special@chars",
            auditEvents=[{"id": "evt-0001", "eventData": EVENT}])),
        ("cloudtrail", lambda c: c.list_channels(MaxResults=5)),
    ):
        client = session.create_client(service, region_name="us-east-1", endpoint_url="http://127.0.0.1:7821")
        client.meta.events.register("before-send", before_send)
        try:
            call(client)
        except Exception:  # the canned answer may not parse for every operation; the capture is what matters
            pass
    session.set_credentials("ASIAEXAMPLE", SECRET, token="FQoGZXIvYXdzEXAMPLEtoken//+==")
    client = session.create_client("cloudtrail", region_name="us-east-1", endpoint_url="http://127.0.0.1:7821")
    client.meta.events.register("before-send", before_send)
    try:
        client.list_event_data_stores()
    except Exception:
        pass
    return captured


class _Raw:
    def __init__(self, body):
        self._body = body

    def stream(self, **_):
        yield self._body

    def read(self, *_):
        return self._body


def main():
    import botocore
    import botocore.session
    out = capture(botocore.session, "boto3 botocore " + botocore.__version__)
    try:
        import awscli.botocore.session as cli_session
        import awscli.botocore as cli_botocore
        out += capture(cli_session, "awscli vendored botocore " + cli_botocore.__version__)
    except ImportError:
        print("awscli's vendored botocore not found; only boto3's captured", file=sys.stderr)
    for r in out:
        r["secret"] = SECRET
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
