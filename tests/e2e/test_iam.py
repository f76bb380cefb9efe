"""IAM and STS against a real Cairn: the troubleshooting article's flow with the AWS CLI, the IAM API with boto3,
AssumeRole and session credentials, authorization of CloudTrail operations, denials explained.

The first test is the article's flow; its transcript (with `cairn explain` of the denied call) is saved to
${CARGO_TARGET_DIR:-target}/e2e-iam-story.txt.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from cairn_e2e import (
    Creds,
    audit_event,
    cairn_bin,
    error_message,
    event_data,
    expect_error,
    out_dir,
    raw_request,
    run_aws,
    setup_integration,
)

PUT = "cloudtrail-data:PutAuditEvents"
ARTICLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["cloudtrail:PutEvent", "cloudtrail:PutLog", "cloudtrail:PutMetric"],
                   "Resource": "*"}],
}


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def trust(principal, **extra) -> str:
    return doc({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole", **extra})


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def user_with_key(iam, user: str, account_id: str) -> Creds:
    iam.create_user(UserName=user)
    k = iam.create_access_key(UserName=user)["AccessKey"]
    return Creds(account_id, k["AccessKeyId"], k["SecretAccessKey"])


def session_creds(resp: dict, account_id: str) -> Creds:
    c = resp["Credentials"]
    return Creds(account_id, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def request_id_in(message: str) -> str:
    m = re.search(r"cairn explain ([0-9a-f-]{36})", message)
    assert m, f"the denial names no request id to explain: {message!r}"
    return m.group(1)


def cairn_explain(data_dir: Path, request_id: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(cairn_bin()), "explain", request_id, "--data-dir", str(data_dir), *extra],
                          capture_output=True, text=True, timeout=60)


def put_one(ctd, channel_arn: str, recipient: str, uid: str | None = None) -> dict:
    uid = uid or uuid.uuid4().hex
    return ctd.put_audit_events(channelArn=channel_arn, auditEvents=[audit_event(uid, event_data(uid, recipient))])


# ------------------------------------------------------------------------------------------------
# the article's flow, with the AWS CLI


class Transcript:
    def __init__(self, endpoint: str, workdir: Path, credentials_file: Path):
        self.endpoint, self.workdir, self.credentials_file = endpoint, workdir, credentials_file
        self.parts: list[str] = []

    def say(self, text: str):
        self.parts.append(f"\n# {text}\n")

    def aws(self, profile: str, *args: str):
        r = run_aws(self.endpoint, list(args), profile=profile, credentials_file=self.credentials_file, cwd=self.workdir)
        self.parts.append(r.display)
        return r

    def file(self, name: str, content: str):
        (self.workdir / name).write_text(content)
        self.parts.append(f"$ cat {name}\n{content.rstrip()}\n")

    def shown(self, cmd: str, output: str):
        self.parts.append(f"$ {cmd}\n{output.rstrip()}\n")

    def profile(self, name: str, c: Creds):
        with open(self.credentials_file, "a") as f:
            f.write(f"\n[{name}]\naws_access_key_id = {c.access_key_id}\naws_secret_access_key = {c.secret_access_key}\n")
            if c.session_token:
                f.write(f"aws_session_token = {c.session_token}\n")


def test_article_flow_with_the_aws_cli(server, owner, tmp_path):
    ct = server.ct(owner)
    integ = setup_integration(ct, owner)
    work = tmp_path / "article"
    work.mkdir()
    creds_file = work / "credentials"
    creds_file.write_text("")
    t = Transcript(server.endpoint, work, creds_file)
    t.profile("owner", owner)
    role, user = name("audit-ingest"), name("app")
    t.say(f"Account {owner.account_id} ('owner' = its root key) has channel {integ.channel_arn}. "
          f"An application user assumes role {role} and sends events.")
    r = t.aws("owner", "iam", "create-user", "--user-name", user)
    assert r.rc == 0, r.display
    user_arn = r.out["User"]["Arn"]
    assert user_arn == f"arn:aws:iam::{owner.account_id}:user/{user}" and r.out["User"]["UserId"].startswith("AIDA")
    r = t.aws("owner", "iam", "create-access-key", "--user-name", user)
    assert r.rc == 0, r.display
    t.profile("app", Creds(owner.account_id, r.out["AccessKey"]["AccessKeyId"], r.out["AccessKey"]["SecretAccessKey"]))
    t.file("trust.json", json.dumps(json.loads(trust(user_arn)), indent=2))
    r = t.aws("owner", "iam", "create-role", "--role-name", role, "--assume-role-policy-document", "file://trust.json")
    assert r.rc == 0, r.display
    role_arn = r.out["Role"]["Arn"]
    # botocore URL-decodes and parses the policy document: it arrives as a dict.
    assert r.out["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": user_arn}
    r = t.aws("owner", "iam", "put-user-policy", "--user-name", user, "--policy-name", "assume-ingest",
              "--policy-document", doc(allow("sts:AssumeRole", role_arn)))
    assert r.rc == 0, r.display

    t.say("The article's advice: grant cloudtrail:PutEvent, cloudtrail:PutLog and cloudtrail:PutMetric.")
    t.file("article-policy.json", json.dumps(ARTICLE_POLICY, indent=2))
    r = t.aws("owner", "iam", "put-role-policy", "--role-name", role, "--policy-name", "cloudtrail-put",
              "--policy-document", "file://article-policy.json")
    assert r.rc == 0, r.display  # accepted silently, as AWS does

    r = t.aws("app", "sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "ingest")
    assert r.rc == 0, r.display
    assert r.out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{owner.account_id}:assumed-role/{role}/ingest"
    t.profile("ingest", session_creds(r.out, owner.account_id))
    r = t.aws("ingest", "sts", "get-caller-identity")
    assert r.rc == 0, r.display
    assert r.out["Arn"] == f"arn:aws:sts::{owner.account_id}:assumed-role/{role}/ingest"
    assert r.out["Account"] == owner.account_id and r.out["UserId"].startswith("AROA") and r.out["UserId"].endswith(":ingest")

    t.say("Sending events with the role session: still denied, and the message says why.")
    uid = uuid.uuid4().hex
    t.file("events.json", json.dumps([{"id": "e1", "eventData": event_data(uid, owner.account_id)}], indent=2))
    r = t.aws("ingest", "cloudtrail-data", "put-audit-events", "--channel-arn", integ.channel_arn,
              "--audit-events", "file://events.json")
    assert r.rc != 0 and r.error_code() == "AccessDeniedException", r.display
    msg = r.stderr
    assert (f"User: arn:aws:sts::{owner.account_id}:assumed-role/{role}/ingest is not authorized to perform: {PUT} "
            f"on resource: {integ.channel_arn} because no identity-based policy allows the {PUT} action") in msg, msg
    # Every action of the article that does not exist is named, not only the first.
    assert "grants cloudtrail:PutEvent, cloudtrail:PutLog and cloudtrail:PutMetric, which are not actions" in msg, msg
    rid = request_id_in(msg)

    t.say("Why? `cairn explain` with the request id from the message.")
    x = cairn_explain(server.data_dir, rid)
    assert x.returncode == 0, x.stderr
    t.shown(f"cairn explain {rid} --data-dir <data-dir>", x.stdout)
    assert role in x.stdout and "cloudtrail-put" in x.stdout and "cloudtrail:PutEvent" in x.stdout, x.stdout
    xj = json.loads(cairn_explain(server.data_dir, rid, "--json").stdout)
    assert xj["errorCode"] == "AccessDeniedException" and xj["effect"] == "ImplicitDeny" and xj["action"] == PUT
    assert xj["warnings"], xj

    t.say("The policy simulator agrees, without sending anything.")
    r = t.aws("owner", "iam", "simulate-principal-policy", "--policy-source-arn", role_arn,
              "--action-names", PUT, "--resource-arns", integ.channel_arn)
    assert r.rc == 0, r.display
    assert r.out["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"

    t.say("The fix: allow cloudtrail-data:PutAuditEvents on the channel.")
    t.file("fixed-policy.json", doc(allow(PUT, integ.channel_arn)))
    r = t.aws("owner", "iam", "put-role-policy", "--role-name", role, "--policy-name", "cloudtrail-put",
              "--policy-document", "file://fixed-policy.json")
    assert r.rc == 0, r.display
    r = t.aws("owner", "iam", "simulate-principal-policy", "--policy-source-arn", role_arn,
              "--action-names", PUT, "--resource-arns", integ.channel_arn)
    assert r.out["EvaluationResults"][0]["EvalDecision"] == "allowed", r.display
    r = t.aws("ingest", "cloudtrail-data", "put-audit-events", "--channel-arn", integ.channel_arn,
              "--audit-events", "file://events.json")
    assert r.rc == 0, r.display
    assert [e["id"] for e in r.out["successful"]] == ["e1"] and r.out["failed"] == []

    (out_dir() / "e2e-iam-story.txt").write_text("".join(t.parts))


# ------------------------------------------------------------------------------------------------
# the IAM API with boto3


def test_users_groups_keys_and_their_errors(server, owner):
    iam = server.client("iam", owner)
    u = name("alice")
    created = iam.create_user(UserName=u, Path="/team/", Tags=[{"Key": "dept", "Value": "audit"}])["User"]
    assert created["Arn"] == f"arn:aws:iam::{owner.account_id}:user/team/{u}" and created["Path"] == "/team/"
    expect_error("EntityAlreadyExists", 409, iam.create_user, UserName=u.upper())  # names are case-insensitive
    got = iam.get_user(UserName=u)["User"]
    assert got["UserId"] == created["UserId"] and got["Tags"] == [{"Key": "dept", "Value": "audit"}]
    assert u in [x["UserName"] for x in iam.list_users(PathPrefix="/team/")["Users"]]
    expect_error("NoSuchEntity", 404, iam.get_user, UserName=name("nobody"))
    expect_error("ValidationError", 400, iam.create_user, UserName="bad name!")

    g = name("devs")
    iam.create_group(GroupName=g)
    iam.add_user_to_group(GroupName=g, UserName=u)
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName=u)["Groups"]] == [g]
    assert [x["UserName"] for x in iam.get_group(GroupName=g)["Users"]] == [u]
    expect_error("DeleteConflict", 409, iam.delete_group, GroupName=g)

    k1 = iam.create_access_key(UserName=u)["AccessKey"]
    iam.create_access_key(UserName=u)
    expect_error("LimitExceeded", 409, iam.create_access_key, UserName=u)
    iam.update_access_key(UserName=u, AccessKeyId=k1["AccessKeyId"], Status="Inactive")
    statuses = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]}
    assert statuses[k1["AccessKeyId"]] == "Inactive" and len(statuses) == 2
    # An inactive key no longer authenticates.
    inactive = Creds(owner.account_id, k1["AccessKeyId"], k1["SecretAccessKey"])
    expect_error("InvalidClientTokenId", 403, server.client("sts", inactive).get_caller_identity)

    iam.put_user_policy(UserName=u, PolicyName="p", PolicyDocument=doc(allow("cloudtrail:List*")))
    expect_error("DeleteConflict", 409, iam.delete_user, UserName=u)
    for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=u, AccessKeyId=k["AccessKeyId"])
    expect_error("DeleteConflict", 409, iam.delete_user, UserName=u)  # still has a policy and a group
    iam.delete_user_policy(UserName=u, PolicyName="p")
    iam.remove_user_from_group(GroupName=g, UserName=u)
    iam.delete_user(UserName=u)
    iam.delete_group(GroupName=g)
    expect_error("NoSuchEntity", 404, iam.get_user, UserName=u)


def test_policy_documents_versions_and_attachments(server, owner):
    iam = server.client("iam", owner)
    r = name("reader")
    iam.create_role(RoleName=r, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{owner.account_id}:root"),
                    Description="reads", MaxSessionDuration=7200)
    # Malformed documents: AWS's MalformedPolicyDocument, for identity and trust policies alike.
    expect_error("MalformedPolicyDocument", 400, iam.put_role_policy, RoleName=r, PolicyName="x", PolicyDocument="{not json")
    expect_error("MalformedPolicyDocument", 400, iam.put_role_policy, RoleName=r, PolicyName="x",
                 PolicyDocument=doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principal": "*"}))
    expect_error("MalformedPolicyDocument", 400, iam.update_assume_role_policy, RoleName=r,
                 PolicyDocument=doc(allow("sts:AssumeRole")))
    iam.put_role_policy(RoleName=r, PolicyName="inline", PolicyDocument=doc(allow("cloudtrail:Get*")))
    got = iam.get_role_policy(RoleName=r, PolicyName="inline")
    assert got["PolicyDocument"]["Statement"][0]["Action"] == "cloudtrail:Get*"  # URL-encoded on the wire
    assert iam.list_role_policies(RoleName=r)["PolicyNames"] == ["inline"]

    pname = name("ct-read")
    p = iam.create_policy(PolicyName=pname, PolicyDocument=doc(allow("cloudtrail:Describe*")), Path="/ops/")["Policy"]
    assert p["Arn"] == f"arn:aws:iam::{owner.account_id}:policy/ops/{pname}" and p["DefaultVersionId"] == "v1"
    expect_error("EntityAlreadyExists", 409, iam.create_policy, PolicyName=pname, PolicyDocument=doc(allow("s3:*")))
    v2 = iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=doc(allow("cloudtrail:*")), SetAsDefault=True)
    assert v2["PolicyVersion"]["VersionId"] == "v2" and v2["PolicyVersion"]["IsDefaultVersion"]
    assert iam.get_policy(PolicyArn=p["Arn"])["Policy"]["DefaultVersionId"] == "v2"
    doc_v1 = iam.get_policy_version(PolicyArn=p["Arn"], VersionId="v1")["PolicyVersion"]["Document"]
    assert doc_v1["Statement"][0]["Action"] == "cloudtrail:Describe*"
    expect_error("DeleteConflict", 409, iam.delete_policy_version, PolicyArn=p["Arn"], VersionId="v2")
    for _ in range(3):
        iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=doc(allow("cloudtrail:List*")))
    expect_error("LimitExceeded", 409, iam.create_policy_version, PolicyArn=p["Arn"], PolicyDocument=doc(allow("s3:*")))

    iam.attach_role_policy(RoleName=r, PolicyArn=p["Arn"])
    iam.attach_role_policy(RoleName=r, PolicyArn="arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess")
    attached = {a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"]}
    assert attached == {p["Arn"], "arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess"}
    assert iam.get_policy(PolicyArn=p["Arn"])["Policy"]["AttachmentCount"] == 1
    expect_error("NoSuchEntity", 404, iam.attach_role_policy, RoleName=r,
                 PolicyArn=f"arn:aws:iam::{owner.account_id}:policy/{name('missing')}")
    expect_error("DeleteConflict", 409, iam.delete_policy, PolicyArn=p["Arn"])
    expect_error("DeleteConflict", 409, iam.delete_role, RoleName=r)
    local = [x["Arn"] for x in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    assert local == [p["Arn"]]

    iam.detach_role_policy(RoleName=r, PolicyArn=p["Arn"])
    iam.detach_role_policy(RoleName=r, PolicyArn="arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess")
    iam.delete_role_policy(RoleName=r, PolicyName="inline")
    expect_error("DeleteConflict", 409, iam.delete_policy, PolicyArn=p["Arn"])  # versions other than the default
    for v in iam.list_policy_versions(PolicyArn=p["Arn"])["Versions"]:
        if not v["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=p["Arn"], VersionId=v["VersionId"])
    iam.delete_policy(PolicyArn=p["Arn"])
    iam.delete_role(RoleName=r)
    expect_error("NoSuchEntity", 404, iam.get_role, RoleName=r)


def test_list_paging_with_markers(server, owner):
    iam = server.client("iam", owner)
    names = sorted(name(f"u{i}") for i in range(5))
    for n in names:
        iam.create_user(UserName=n)
    seen, marker = [], None
    while True:
        kw = {"MaxItems": 2, **({"Marker": marker} if marker else {})}
        page = iam.list_users(**kw)
        assert len(page["Users"]) <= 2
        seen += [u["UserName"] for u in page["Users"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert [n for n in seen if n in names] == names
    # botocore's paginator follows the same markers.
    paged = [u["UserName"] for p in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2}) for u in p["Users"]]
    assert [n for n in paged if n in names] == names


# ------------------------------------------------------------------------------------------------
# authorization of every call


def test_cloudtrail_calls_need_identity_permissions(server, owner):
    iam = server.client("iam", owner)
    integ = setup_integration(server.ct(owner), owner)
    u = name("viewer")
    creds = user_with_key(iam, u, owner.account_id)
    ct = server.ct(creds)
    e = expect_error("AccessDeniedException", 403, ct.list_channels)
    # No "on resource: *" for actions without a resource, as AWS writes it.
    assert (f"User: arn:aws:iam::{owner.account_id}:user/{u} is not authorized to perform: cloudtrail:ListChannels "
            "because no identity-based policy allows the cloudtrail:ListChannels action") in error_message(e)
    rid = request_id_in(error_message(e))
    assert rid == e.response["ResponseMetadata"]["RequestId"]
    explained = cairn_explain(server.data_dir, rid)
    assert explained.returncode == 0 and u in explained.stdout, explained.stdout + explained.stderr

    iam.put_user_policy(UserName=u, PolicyName="read", PolicyDocument=doc(
        allow(["cloudtrail:ListChannels", "cloudtrail:GetChannel"]),
        deny("cloudtrail:GetChannel", integ.channel_arn)))
    assert integ.channel_arn in [c["ChannelArn"] for c in ct.list_channels()["Channels"]]
    e = expect_error("AccessDeniedException", 403, ct.get_channel, Channel=integ.channel_arn)
    assert "with an explicit deny in an identity-based policy" in error_message(e)
    # Unknown channels: the same authorization first, then ChannelNotFoundException.
    missing = integ.channel_arn.rsplit("/", 1)[0] + "/" + str(uuid.uuid4())
    expect_error("ChannelNotFoundException", 404, ct.get_channel, Channel=missing)
    # A user without iam:* cannot change its own policies.
    expect_error("AccessDenied", 403, server.client("iam", creds).put_user_policy, UserName=u, PolicyName="x",
                 PolicyDocument=doc(allow("*")))
    # Same-account PutAuditEvents without permission: AccessDeniedException, not ChannelInsufficientPermission.
    expect_error("AccessDeniedException", 403, put_one, server.ctd(creds), integ.channel_arn, owner.account_id)
    iam.attach_user_policy(UserName=u, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert put_one(server.ctd(creds), integ.channel_arn, owner.account_id)["failed"] == []


def test_permissions_boundary_limits_what_policies_grant(server, owner):
    iam = server.client("iam", owner)
    integ = setup_integration(server.ct(owner), owner)
    u = name("bounded")
    creds = user_with_key(iam, u, owner.account_id)
    iam.attach_user_policy(UserName=u, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    b = iam.create_policy(PolicyName=name("boundary"), PolicyDocument=doc(allow("cloudtrail:List*")))["Policy"]
    iam.put_user_permissions_boundary(UserName=u, PermissionsBoundary=b["Arn"])
    assert iam.get_user(UserName=u)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == b["Arn"]
    server.ct(creds).list_channels()
    e = expect_error("AccessDeniedException", 403, server.ct(creds).get_channel, Channel=integ.channel_arn)
    assert "because no permissions boundary allows the cloudtrail:GetChannel action" in error_message(e)
    sim = iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{owner.account_id}:user/{u}",
                                        ActionNames=["cloudtrail:GetChannel", "cloudtrail:ListChannels"])
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in sim["EvaluationResults"]}
    assert decisions == {"cloudtrail:GetChannel": "implicitDeny", "cloudtrail:ListChannels": "allowed"}
    iam.delete_user_permissions_boundary(UserName=u)
    server.ct(creds).get_channel(Channel=integ.channel_arn)


def test_simulate_custom_policy_with_context(server, owner):
    iam = server.client("iam", owner)
    policy = doc(allow("cloudtrail:StartQuery", Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}))
    res = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["cloudtrail:StartQuery"],
                                     ContextEntries=[{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["192.0.2.7"],
                                                      "ContextKeyType": "ip"}])["EvaluationResults"][0]
    assert res["EvalDecision"] == "allowed" and res["MatchedStatements"]
    res = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["cloudtrail:StartQuery"])["EvaluationResults"][0]
    assert res["EvalDecision"] == "implicitDeny" and res["MissingContextValues"] == ["aws:SourceIp"]
    expect_error("MalformedPolicyDocument", 400, iam.simulate_custom_policy, PolicyInputList=["{"], ActionNames=["s3:GetObject"])


# ------------------------------------------------------------------------------------------------
# STS


def test_assume_role_trust_policy_external_id_and_session_policy(server, owner, partner):
    iam = server.client("iam", owner)
    integ = setup_integration(server.ct(owner), owner)
    r = name("partner-writer")
    role_arn = iam.create_role(RoleName=r, AssumeRolePolicyDocument=trust(
        f"arn:aws:iam::{partner.account_id}:root", Condition={"StringEquals": {"sts:ExternalId": "ext-123"}}),
        Tags=[{"Key": "team", "Value": "ingest"}])["Role"]["Arn"]
    iam.put_role_policy(RoleName=r, PolicyName="put", PolicyDocument=doc(allow([PUT, "cloudtrail:GetChannel"])))
    # The partner's side: a user of the partner account allowed to assume roles (root may not assume roles).
    partner_iam = server.client("iam", partner)
    pu = name("partner-app")
    partner_user = user_with_key(partner_iam, pu, partner.account_id)
    sts = server.client("sts", partner_user)
    e = expect_error("AccessDenied", 403, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1", ExternalId="ext-123")
    assert "because no identity-based policy allows the sts:AssumeRole action" in error_message(e)
    partner_iam.put_user_policy(UserName=pu, PolicyName="assume", PolicyDocument=doc(allow("sts:AssumeRole")))
    e = expect_error("AccessDenied", 403, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1")
    assert f"is not authorized to perform: sts:AssumeRole on resource: {role_arn}" in error_message(e)
    expect_error("AccessDenied", 403, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1", ExternalId="ext-999")
    expect_error("ValidationError", 400, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1", ExternalId="ext-123",
                 DurationSeconds=7200)  # above the role's MaxSessionDuration (3600)
    # Root users may not assume roles at all, as in AWS.
    e = expect_error("AccessDenied", 403, server.client("sts", partner).assume_role, RoleArn=role_arn, RoleSessionName="s1",
                     ExternalId="ext-123")
    assert "Roles may not be assumed by root accounts" in error_message(e)
    resp = sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", ExternalId="ext-123", DurationSeconds=900)
    sess = session_creds(resp, owner.account_id)
    ident = server.client("sts", sess).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{owner.account_id}:assumed-role/{r}/s1" and ident["Account"] == owner.account_id
    assert put_one(server.ctd(sess), integ.channel_arn, owner.account_id)["failed"] == []

    # A session policy narrows the session to GetChannel.
    narrowed = sts.assume_role(RoleArn=role_arn, RoleSessionName="s2", ExternalId="ext-123",
                               Policy=doc(allow("cloudtrail:GetChannel")))
    nsess = session_creds(narrowed, owner.account_id)
    server.ct(nsess).get_channel(Channel=integ.channel_arn)
    e = expect_error("AccessDeniedException", 403, put_one, server.ctd(nsess), integ.channel_arn, owner.account_id)
    assert "because no session policy allows" in error_message(e)
    expect_error("MalformedPolicyDocument", 400, sts.assume_role, RoleArn=role_arn, RoleSessionName="s3",
                 ExternalId="ext-123", Policy="{nope")

    # A wrong or missing session token is refused; deleting the role ends its sessions.
    bad = Creds(sess.account_id, sess.access_key_id, sess.secret_access_key, sess.session_token[:-4] + "AAAA")
    expect_error("UnrecognizedClientException", 403, server.ct(bad).list_channels)
    expect_error("InvalidClientTokenId", 403, server.client("sts", bad).get_caller_identity)
    nosession = Creds(sess.account_id, sess.access_key_id, sess.secret_access_key)
    expect_error("InvalidClientTokenId", 403, server.client("sts", nosession).get_caller_identity)
    iam.delete_role_policy(RoleName=r, PolicyName="put")
    iam.delete_role(RoleName=r)
    expect_error("InvalidClientTokenId", 403, server.client("sts", sess).get_caller_identity)


def test_caller_identity_of_each_kind(server, owner):
    ident = server.client("sts", owner).get_caller_identity()
    assert ident == {**ident, "Account": owner.account_id, "Arn": f"arn:aws:iam::{owner.account_id}:root",
                     "UserId": owner.account_id}
    iam = server.client("iam", owner)
    u = name("who")
    creds = user_with_key(iam, u, owner.account_id)
    # GetCallerIdentity needs no permission, even under an explicit deny of everything.
    iam.put_user_policy(UserName=u, PolicyName="deny-all", PolicyDocument=doc(deny("*")))
    ident = server.client("sts", creds).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{owner.account_id}:user/{u}" and ident["UserId"].startswith("AIDA")
    tok = server.client("sts", creds).get_session_token(DurationSeconds=900)
    assert tok["Credentials"]["AccessKeyId"].startswith("ASIA")
    same = server.client("sts", session_creds(tok, owner.account_id)).get_caller_identity()
    assert same["Arn"] == ident["Arn"]


def test_expired_session_is_refused(private_server):
    srv = private_server("sts-expiry")
    root = srv.root
    iam = srv.client("iam", root)
    u = name("shortlived")
    user = user_with_key(iam, u, root.account_id)
    r = name("short")
    role_arn = iam.create_role(RoleName=r, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{root.account_id}:user/{u}"))["Role"]["Arn"]
    iam.put_user_policy(UserName=u, PolicyName="assume", PolicyDocument=doc(allow("sts:AssumeRole", role_arn)))
    iam.put_role_policy(RoleName=r, PolicyName="list", PolicyDocument=doc(allow("cloudtrail:ListChannels")))
    sess = session_creds(srv.client("sts", user).assume_role(RoleArn=role_arn, RoleSessionName="sess", DurationSeconds=900),
                         root.account_id)
    srv.ct(sess).list_channels()
    # Sixteen minutes later (Cairn's clock moved on; the signature window widened to match):
    srv.stop()
    srv.extra_args = ["--clock-offset", "960", "--max-clock-skew", "1200"]
    srv.start()
    e = expect_error("ExpiredTokenException", 400, srv.ct(sess).list_channels)
    assert "expired" in error_message(e)
    r = run_aws(srv.endpoint, ["cloudtrail", "list-channels"], creds=sess)
    assert r.rc != 0 and r.error_code() == "ExpiredTokenException", r.display
    r = run_aws(srv.endpoint, ["sts", "get-caller-identity"], creds=sess)
    assert r.rc != 0 and r.error_code() == "ExpiredToken", r.display
    expect_error("ExpiredToken", 403, srv.client("sts", sess).get_caller_identity)
    srv.ct(root).list_channels()  # long-term keys are unaffected
