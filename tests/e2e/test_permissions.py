"""Cross-account PutAuditEvents, channel resource policies, external IDs, explicit Deny.

The first test is the permission story a user arrives with, run entirely with the AWS CLI; its transcript is
printed (run pytest with -s to see it live) and saved to ${CARGO_TARGET_DIR:-target}/e2e-permission-story.txt.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from cairn_e2e import (
    INTEGRATION_SELECTORS,
    Creds,
    audit_event,
    cairn_bin,
    create_channel,
    error_message,
    event_data,
    expect_error,
    out_dir,
    run_aws,
    run_query,
)

PUT = "cloudtrail-data:PutAuditEvents"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal, channel_arn: str, external_id: str | None = None, sid: str = "AllowPartner") -> dict:
    st = {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principal}, "Action": PUT, "Resource": channel_arn}
    if external_id is not None:
        st["Condition"] = {"StringEquals": {"cloudtrail:ExternalId": external_id}}
    return st


def deny(principal, channel_arn: str, sid: str = "DenyOwner") -> dict:
    return {"Sid": sid, "Effect": "Deny", "Principal": {"AWS": principal}, "Action": PUT, "Resource": channel_arn}


def assert_quotes_nothing(msg: str, *secrets: str):
    """A caller from another account learns nothing of the channel policy: no values, Sids, statement numbers."""
    for s in secrets:
        assert s not in msg, f"the denial quotes {s!r} of another account's policy: {msg!r}"
    assert not re.search(r"[Ss]tatement \d", msg), f"the denial numbers the other account's statements: {msg!r}"


def explain(data_dir: Path, message: str) -> str:
    """`cairn explain <request id>` (the operator's view) for the denial whose message is `message`."""
    m = re.search(r"cairn explain ([0-9a-f-]{36})", message)
    assert m, f"the denial names no request id to explain: {message!r}"
    x = subprocess.run([str(cairn_bin()), "explain", m.group(1), "--data-dir", str(data_dir)],
                       capture_output=True, text=True, timeout=60)
    assert x.returncode == 0, x.stderr
    return x.stdout


def assert_denial_message(msg: str, caller: Creds, channel_arn: str, owner: Creds, lacks: list[str]):
    """A denial names the caller's account and principal, the channel and its owner, and what the policy lacks."""
    assert caller.account_id in msg, f"message should name the caller account {caller.account_id}: {msg!r}"
    assert caller.root_arn in msg, f"message should name the caller principal {caller.root_arn}: {msg!r}"
    assert channel_arn in msg, f"message should name the channel {channel_arn}: {msg!r}"
    if owner.account_id != caller.account_id:
        assert owner.account_id in msg.replace(channel_arn, ""), f"message should name the owner account: {msg!r}"
    # Each thing once: the channel ARN, and no sentence twice (the reason and the hint used to restate each other).
    assert msg.count(channel_arn) == 1, f"the channel ARN is repeated: {msg!r}"
    sentences = [x.strip() for x in re.split(r"(?<=\.)\s", msg.split("An error occurred")[-1]) if x.strip()]
    assert len(sentences) == len(set(sentences)) and len(sentences) <= 4, f"the message repeats itself: {msg!r}"
    flat = re.sub(r"[\s_-]", "", msg.lower())
    for word in lacks:
        assert re.sub(r"[\s_-]", "", word.lower()) in flat, f"message should say what is lacking ({word!r}): {msg!r}"


# ------------------------------------------------------------------------------------------------
# the story, with the AWS CLI


class Story:
    def __init__(self, endpoint: str, workdir: Path, credentials_file: Path):
        self.endpoint = endpoint
        self.workdir = workdir
        self.credentials_file = credentials_file
        self.parts: list[str] = []

    def say(self, text: str):
        block = f"\n# {text}\n"
        self.parts.append(block)
        print(block, end="")

    def aws(self, profile: str, *args: str):
        r = run_aws(self.endpoint, list(args), profile=profile, credentials_file=self.credentials_file,
                    cwd=self.workdir, display_prefix="")
        self.parts.append(r.display)
        print(r.display, end="")
        return r

    def file(self, name: str, content: str):
        (self.workdir / name).write_text(content)
        shown = f"$ cat {name}\n{content.rstrip()}\n"
        self.parts.append(shown)
        print(shown, end="")

    def text(self) -> str:
        return "".join(self.parts)


def _events_json(prefix: str, recipient: str, n: int = 2) -> str:
    return json.dumps([{"id": f"{prefix}-{i}", "eventData": event_data(f"{prefix}-{i}", recipient)} for i in range(1, n + 1)],
                      indent=2)


def test_permission_story_with_the_aws_cli(server, make_account, tmp_path):
    owner = server.root
    partner = make_account("partner-co")
    third = make_account("unrelated-co")
    work = tmp_path / "story"
    work.mkdir()
    creds = work / "credentials"
    creds.write_text(
        f"[owner]\naws_access_key_id = {owner.access_key_id}\naws_secret_access_key = {owner.secret_access_key}\n\n"
        f"[partner]\naws_access_key_id = {partner.access_key_id}\naws_secret_access_key = {partner.secret_access_key}\n\n"
        f"[third]\naws_access_key_id = {third.access_key_id}\naws_secret_access_key = {third.secret_access_key}\n"
    )
    s = Story(server.endpoint, work, creds)
    s.say(f"Cairn at {server.endpoint}. Profiles in $AWS_SHARED_CREDENTIALS_FILE: 'owner' = root key of the default "
          f"account {owner.account_id} (from <data-dir>/root-credentials), 'partner' = account {partner.account_id} "
          f"(created with `cairn accounts create --name partner-co`), 'third' = account {third.account_id}, which "
          f"nobody shares anything with.")

    s.say("Owner creates an event data store for integration events and a channel feeding it.")
    r = s.aws("owner", "cloudtrail", "create-event-data-store", "--name", f"story-eds-{uuid.uuid4().hex[:6]}",
              "--advanced-event-selectors", json.dumps(INTEGRATION_SELECTORS), "--no-termination-protection-enabled",
              "--retention-period", "3653")  # the story's events are from 2024; retention counts from eventTime
    assert r.rc == 0, r.display
    eds_arn = r.out["EventDataStoreArn"]
    eds_id = eds_arn.rsplit("/", 1)[-1]
    r = s.aws("owner", "cloudtrail", "create-channel", "--name", f"story-channel-{uuid.uuid4().hex[:6]}", "--source", "Custom",
              "--destinations", json.dumps([{"Type": "EVENT_DATA_STORE", "Location": eds_arn}]))
    assert r.rc == 0, r.display
    chan = r.out["ChannelArn"]

    s.say("The owner can send events to its own channel.")
    s.file("owner-events.json", _events_json("owner-evt", owner.account_id, 1))
    r = s.aws("owner", "cloudtrail-data", "put-audit-events", "--channel-arn", chan, "--audit-events", "file://owner-events.json")
    assert r.rc == 0, r.display
    assert [e["id"] for e in r.out["successful"]] == ["owner-evt-1"] and r.out["failed"] == []

    s.say("The partner sends events to the owner's channel: no resource policy yet, so it is refused.")
    s.file("partner-events.json", _events_json("partner-evt", owner.account_id, 2))
    r = s.aws("partner", "cloudtrail-data", "put-audit-events", "--channel-arn", chan,
              "--audit-events", "file://partner-events.json")
    assert r.rc != 0 and r.error_code() == "ChannelInsufficientPermission", r.display
    assert_denial_message(r.stderr, partner, chan, owner, ["policy"])

    ext = "partner-ext-id-0001"
    s.say("Owner attaches a resource policy: the partner account may call PutAuditEvents with external ID "
          f"'{ext}'.")
    s.file("policy.json", json.dumps(json.loads(policy(allow(f"arn:aws:iam::{partner.account_id}:root", chan, ext))), indent=2))
    r = s.aws("owner", "cloudtrail", "put-resource-policy", "--resource-arn", chan, "--resource-policy", "file://policy.json")
    assert r.rc == 0, r.display
    assert r.out["ResourceArn"] == chan
    assert json.loads(r.out["ResourcePolicy"]) == json.loads((work / "policy.json").read_text())
    r = s.aws("owner", "cloudtrail", "get-resource-policy", "--resource-arn", chan)
    assert r.rc == 0 and r.out["ResourceArn"] == chan, r.display

    s.say("Partner without --external-id: denied (the policy requires one).")
    r = s.aws("partner", "cloudtrail-data", "put-audit-events", "--channel-arn", chan,
              "--audit-events", "file://partner-events.json")
    assert r.rc != 0 and r.error_code() == "ChannelInsufficientPermission", r.display
    assert_denial_message(r.stderr, partner, chan, owner, ["externalId"])

    s.say("Partner with a wrong --external-id: denied.")
    r = s.aws("partner", "cloudtrail-data", "put-audit-events", "--channel-arn", chan, "--external-id", "wrong-id-123",
              "--audit-events", "file://partner-events.json")
    assert r.rc != 0 and r.error_code() == "ChannelInsufficientPermission", r.display
    assert_denial_message(r.stderr, partner, chan, owner, ["externalId"])
    assert "external" in r.stderr.lower()
    # The partner is told an external id is needed, not which one (it is the owner's to hand out).
    assert_quotes_nothing(r.stderr, ext, "AllowPartner")

    s.say("A third account, not named in the policy: refused, and told nothing of the policy (not who it names).")
    r = s.aws("third", "cloudtrail-data", "put-audit-events", "--channel-arn", chan, "--external-id", "a-guess",
              "--audit-events", "file://partner-events.json")
    assert r.rc != 0 and r.error_code() == "ChannelInsufficientPermission", r.display
    assert_denial_message(r.stderr, third, chan, owner, ["policy"])
    assert_quotes_nothing(r.stderr, ext, "AllowPartner", partner.account_id)

    s.say("Partner with the right --external-id: accepted.")
    r = s.aws("partner", "cloudtrail-data", "put-audit-events", "--channel-arn", chan, "--external-id", ext,
              "--audit-events", "file://partner-events.json")
    assert r.rc == 0, r.display
    assert sorted(e["id"] for e in r.out["successful"]) == ["partner-evt-1", "partner-evt-2"] and r.out["failed"] == []

    s.say("Owner queries what arrived.")
    sql = (f"SELECT eventData.uid, eventData.recipientAccountId, metadata.channelArn FROM {eds_id} "
           f"ORDER BY eventData.uid")
    r = s.aws("owner", "cloudtrail", "start-query", "--query-statement", sql)
    assert r.rc == 0, r.display
    qid = r.out["QueryId"]
    status = None
    for _ in range(200):
        d = run_aws(server.endpoint, ["cloudtrail", "describe-query", "--query-id", qid], profile="owner",
                    credentials_file=creds, cwd=work)
        status = d.out and d.out.get("QueryStatus")
        if status in ("FINISHED", "FAILED", "CANCELLED", "TIMED_OUT"):
            break
    assert status == "FINISHED", d.display
    r = s.aws("owner", "cloudtrail", "get-query-results", "--query-id", qid)
    assert r.rc == 0, r.display
    uids = [row[0]["uid"] for row in r.out["QueryResultRows"]]
    assert uids == ["owner-evt-1", "partner-evt-1", "partner-evt-2"], r.out

    s.say("Owner adds an explicit Deny for its own account: now even the owner is refused, the partner still works.")
    s.file("policy.json", json.dumps(json.loads(policy(
        allow(f"arn:aws:iam::{partner.account_id}:root", chan, ext),
        deny(f"arn:aws:iam::{owner.account_id}:root", chan),
    )), indent=2))
    r = s.aws("owner", "cloudtrail", "put-resource-policy", "--resource-arn", chan, "--resource-policy", "file://policy.json")
    assert r.rc == 0, r.display
    r = s.aws("owner", "cloudtrail-data", "put-audit-events", "--channel-arn", chan, "--audit-events", "file://owner-events.json")
    assert r.rc != 0 and r.error_code() == "ChannelInsufficientPermission", r.display
    assert_denial_message(r.stderr, owner, chan, owner, ["deny"])
    assert "DenyOwner" in r.stderr, "the denial should name the statement that denied"
    s.file("partner-events-2.json", _events_json("partner-evt-b", owner.account_id, 1))
    r = s.aws("partner", "cloudtrail-data", "put-audit-events", "--channel-arn", chan, "--external-id", ext,
              "--audit-events", "file://partner-events-2.json")
    assert r.rc == 0 and r.out["failed"] == [], r.display

    s.say("Principal given as a bare account id, no external-ID condition: the partner needs no --external-id.")
    s.file("policy.json", json.dumps(json.loads(policy(allow(partner.account_id, chan))), indent=2))
    r = s.aws("owner", "cloudtrail", "put-resource-policy", "--resource-arn", chan, "--resource-policy", "file://policy.json")
    assert r.rc == 0, r.display
    s.file("partner-events-3.json", _events_json("partner-evt-c", owner.account_id, 1))
    r = s.aws("partner", "cloudtrail-data", "put-audit-events", "--channel-arn", chan,
              "--audit-events", "file://partner-events-3.json")
    assert r.rc == 0 and r.out["failed"] == [], r.display

    secret = "s3cr3t-ext-id-9931"
    s.say("Owner shares the channel with any account that knows an external id: Principal \"*\" and a "
          "cloudtrail:ExternalId condition.")
    s.file("policy.json", json.dumps(json.loads(policy(allow("*", chan, secret, sid="AnyoneWithSecret"))), indent=2))
    r = s.aws("owner", "cloudtrail", "put-resource-policy", "--resource-arn", chan, "--resource-policy", "file://policy.json")
    assert r.rc == 0, r.display
    s.say("The third account guesses an external id: refused, and the answer does not give the real one away.")
    s.file("third-events.json", _events_json("third-evt", owner.account_id, 1))
    r = s.aws("third", "cloudtrail-data", "put-audit-events", "--channel-arn", chan, "--external-id", "guess",
              "--audit-events", "file://third-events.json")
    assert r.rc != 0 and r.error_code() == "ChannelInsufficientPermission", r.display
    assert_denial_message(r.stderr, third, chan, owner, ["cloudtrail:ExternalId"])
    assert_quotes_nothing(r.stderr, secret, "AnyoneWithSecret", "StringEquals")
    s.say("Without any external id: the same, it only says one is needed.")
    r = s.aws("third", "cloudtrail-data", "put-audit-events", "--channel-arn", chan,
              "--audit-events", "file://third-events.json")
    assert r.rc != 0 and r.error_code() == "ChannelInsufficientPermission", r.display
    assert_denial_message(r.stderr, third, chan, owner, ["cloudtrail:ExternalId", "--external-id"])
    assert_quotes_nothing(r.stderr, secret, "AnyoneWithSecret", "StringEquals")
    s.say("The operator sees everything with `cairn explain` on the server's data directory.")
    x = explain(server.data_dir, r.stderr)
    s.parts.append(f"$ cairn explain <request id> --data-dir <data-dir>\n{x}")
    print(s.parts[-1], end="")
    assert secret in x and "AnyoneWithSecret" in x, x
    s.say("Once the owner hands out the id, the third account gets in with it.")
    r = s.aws("third", "cloudtrail-data", "put-audit-events", "--channel-arn", chan, "--external-id", secret,
              "--audit-events", "file://third-events.json")
    assert r.rc == 0 and r.out["failed"] == [], r.display

    s.say("Owner removes the policy: the partner is refused again, the owner is allowed again.")
    r = s.aws("owner", "cloudtrail", "delete-resource-policy", "--resource-arn", chan)
    assert r.rc == 0, r.display
    s.file("partner-events-4.json", _events_json("partner-evt-d", owner.account_id, 1))
    r = s.aws("partner", "cloudtrail-data", "put-audit-events", "--channel-arn", chan,
              "--audit-events", "file://partner-events-4.json")
    assert r.rc != 0 and r.error_code() == "ChannelInsufficientPermission", r.display
    r = s.aws("owner", "cloudtrail-data", "put-audit-events", "--channel-arn", chan, "--audit-events", "file://owner-events.json")
    assert r.rc == 0, r.display

    text = s.text()
    # Secrets never appear in the transcript (profiles are used instead).
    assert partner.secret_access_key not in text and owner.secret_access_key not in text
    (out_dir() / "e2e-permission-story.txt").write_text(text)


# ------------------------------------------------------------------------------------------------
# the same rules with boto3, case by case


def _put(ctd, integ, prefix, external_id=None, n=1):
    kw = {"externalId": external_id} if external_id else {}
    events = [audit_event(f"{prefix}{i}", event_data(f"{prefix}{uuid.uuid4().hex[:8]}", integ.owner.account_id))
              for i in range(n)]
    return ctd.put_audit_events(channelArn=integ.channel_arn, auditEvents=events, **kw)


def test_cross_account_denied_without_policy_and_nothing_stored(server, ct, integ, owner, partner):
    p = f"den-{uuid.uuid4().hex[:8]}-"
    e = expect_error("ChannelInsufficientPermission", 400, server.ctd(partner).put_audit_events,
                     channelArn=integ.channel_arn,
                     auditEvents=[audit_event("a1", event_data(p + "1", owner.account_id))])
    assert_denial_message(error_message(e), partner, integ.channel_arn, owner, ["policy", "PutAuditEvents"])
    r = run_query(ct, f"SELECT eventData.uid FROM {integ.eds_id} WHERE eventData.uid LIKE '{p}%'")
    assert r.rows == []
    # The bare channel id works the same way for a cross-account caller (it names the owner's channel).
    expect_error({"ChannelInsufficientPermission", "ChannelNotFound"}, 400, server.ctd(partner).put_audit_events,
                 channelArn=integ.channel_id,
                 auditEvents=[audit_event("a1", event_data(p + "2", owner.account_id))])


@pytest.mark.parametrize("form", ["root-arn", "bare-account-id", "root-arn-list"])
def test_principal_forms(server, ct, integ, owner, partner, make_account, form):
    principal = {
        "root-arn": f"arn:aws:iam::{partner.account_id}:root",
        "bare-account-id": partner.account_id,
        "root-arn-list": [f"arn:aws:iam::{owner.account_id}:root", f"arn:aws:iam::{partner.account_id}:root"],
    }[form]
    ct.put_resource_policy(ResourceArn=integ.channel_arn, ResourcePolicy=policy(allow(principal, integ.channel_arn)))
    resp = _put(server.ctd(partner), integ, "p")
    assert resp["failed"] == [] and len(resp["successful"]) == 1
    # Passing an external ID when the policy has no condition is allowed too.
    resp = _put(server.ctd(partner), integ, "q", external_id="any-ext-id")
    assert resp["failed"] == []
    # Someone not named is still refused.
    third = make_account()
    e = expect_error("ChannelInsufficientPermission", 400, _put, server.ctd(third), integ, "r")
    assert_denial_message(error_message(e), third, integ.channel_arn, owner, [])
    # Nor is it told whom the channel is shared with.
    assert_quotes_nothing(error_message(e), partner.account_id, "AllowPartner")


def test_external_id_condition(server, ct, integ, owner, partner):
    ext = "Ext:Id=with/special@chars"
    ct.put_resource_policy(ResourceArn=integ.channel_arn,
                           ResourcePolicy=policy(allow(f"arn:aws:iam::{partner.account_id}:root", integ.channel_arn, ext)))
    pctd = server.ctd(partner)
    for bad in (None, "wrong-external-id", ext.lower(), ext + "x"):
        e = expect_error("ChannelInsufficientPermission", 400, _put, pctd, integ, "x", external_id=bad)
        assert_denial_message(error_message(e), partner, integ.channel_arn, owner, ["externalId"])
        assert_quotes_nothing(error_message(e), ext, "AllowPartner", "StringEquals")
    resp = _put(pctd, integ, "ok", external_id=ext, n=3)
    assert resp["failed"] == [] and len(resp["successful"]) == 3
    # The owner itself is not subject to the partner's condition.
    assert _put(server.ctd(owner), integ, "own")["failed"] == []


def test_explicit_deny_wins_for_owner_and_partner(server, ct, integ, owner, partner):
    ct.put_resource_policy(ResourceArn=integ.channel_arn, ResourcePolicy=policy(
        allow([owner.account_id, partner.account_id], integ.channel_arn, sid="AllowBoth"),
        deny(f"arn:aws:iam::{owner.account_id}:root", integ.channel_arn, sid="DenyOwner"),
        deny(partner.account_id, integ.channel_arn, sid="DenyPartner"),
    ))
    e = expect_error("ChannelInsufficientPermission", 400, _put, server.ctd(owner), integ, "o")
    assert_denial_message(error_message(e), owner, integ.channel_arn, owner, ["deny"])
    assert "DenyOwner" in error_message(e)  # the owner may see its own policy
    e = expect_error("ChannelInsufficientPermission", 400, _put, server.ctd(partner), integ, "p")
    assert_denial_message(error_message(e), partner, integ.channel_arn, owner, ["deny"])
    # The partner is told there is an explicit Deny, not which statement of the owner's policy it is.
    assert_quotes_nothing(error_message(e), "DenyPartner", "AllowBoth", "DenyOwner")
    assert "DenyPartner" in explain(server.data_dir, error_message(e))
    # The control plane is unaffected: the owner can still fix the policy.
    ct.delete_resource_policy(ResourceArn=integ.channel_arn)
    assert _put(server.ctd(owner), integ, "o2")["failed"] == []


def test_control_plane_on_another_accounts_channel_says_only_the_owner_manages_it(server, ct, integ, owner, partner):
    """The channel has a policy that lets the partner send; GetChannel is still the owner's alone, and the hint says
    so, rather than asking for a resource policy allowing cloudtrail:GetChannel (which PutResourcePolicy refuses)."""
    ct.put_resource_policy(ResourceArn=integ.channel_arn, ResourcePolicy=policy(allow(partner.account_id, integ.channel_arn)))
    e = expect_error("AccessDeniedException", 403, server.ct(partner).get_channel, Channel=integ.channel_arn)
    msg = error_message(e)
    assert (f"User: {partner.root_arn} is not authorized to perform: cloudtrail:GetChannel on resource: {integ.channel_arn} "
            f"because no resource-based policy allows the cloudtrail:GetChannel action") in msg, msg
    assert f"Channels are managed only by their owner account ({owner.account_id})" in msg, msg
    assert "cloudtrail-data:PutAuditEvents and nothing else" in msg, msg
    assert "must add" not in msg and "has no resource-based policy" not in msg, msg
    # The advice it no longer gives could not be followed.
    expect_error("ResourcePolicyNotValidException", 400, ct.put_resource_policy, ResourceArn=integ.channel_arn,
                 ResourcePolicy=policy({**allow(partner.account_id, integ.channel_arn), "Action": "cloudtrail:GetChannel"}))
    # The operator's explanation does not claim the channel has no policy either.
    x = explain(server.data_dir, msg)
    assert "has no resource-based policy that applies to cloudtrail:GetChannel" in x, x
    # An event data store likewise; a made-up channel of the owner gets the same answer (nothing is revealed).
    e = expect_error("AccessDeniedException", 403, server.ct(partner).get_event_data_store, EventDataStore=integ.eds_arn)
    assert f"managed only by their owner account ({owner.account_id})" in error_message(e)
    missing = integ.channel_arn.rsplit("/", 1)[0] + "/" + str(uuid.uuid4())
    e = expect_error("AccessDeniedException", 403, server.ct(partner).get_channel, Channel=missing)
    strip = lambda m, arn: m.replace(arn, "C").split(" (cairn explain")[0]  # noqa: E731
    assert strip(error_message(e), missing) == strip(msg, integ.channel_arn)


def test_partner_user_needs_its_own_accounts_policy_too(server, ct, integ, owner, partner):
    """X3: the channel policy names the partner account; a user of it also needs its own identity policy, and the
    message says so once, without the channel policy's details."""
    ct.put_resource_policy(ResourceArn=integ.channel_arn, ResourcePolicy=policy(
        allow(f"arn:aws:iam::{partner.account_id}:root", integ.channel_arn, "ext-x3", sid="PartnerX3")))
    piam = server.client("iam", partner)
    user = f"sender-{uuid.uuid4().hex[:8]}"
    piam.create_user(UserName=user)
    key = piam.create_access_key(UserName=user)["AccessKey"]
    sender = Creds(partner.account_id, key["AccessKeyId"], key["SecretAccessKey"])
    e = expect_error("ChannelInsufficientPermission", 400, _put, server.ctd(sender), integ, "x3", external_id="ext-x3")
    msg = error_message(e)
    assert f"principal arn:aws:iam::{partner.account_id}:user/{user})" in msg, msg
    assert f"No policy is attached to user {user}; a caller from another account needs its own account's policy to allow {PUT} too." in msg, msg
    assert msg.count(integ.channel_arn) == 1 and msg.count("own account") == 1, msg
    assert_quotes_nothing(msg, "PartnerX3", "ext-x3")
    piam.put_user_policy(UserName=user, PolicyName="put", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": PUT, "Resource": integ.channel_arn}]}))
    assert _put(server.ctd(sender), integ, "x3ok", external_id="ext-x3")["failed"] == []


def test_denied_call_updates_nothing(server, ct, integ, owner, partner):
    _put(server.ctd(owner), integ, "first")
    before = ct.get_channel(Channel=integ.channel_arn)["IngestionStatus"]
    expect_error("ChannelInsufficientPermission", 400, _put, server.ctd(partner), integ, "x")
    after = ct.get_channel(Channel=integ.channel_arn)["IngestionStatus"]
    assert after.get("LatestIngestionSuccessEventID") == before.get("LatestIngestionSuccessEventID")


# ------------------------------------------------------------------------------------------------
# resource policy validation


def test_resource_policy_roundtrip_and_not_found(ct, integ, owner, partner):
    expect_error("ResourcePolicyNotFoundException", 404, ct.get_resource_policy, ResourceArn=integ.channel_arn)
    expect_error("ResourcePolicyNotFoundException", 404, ct.delete_resource_policy, ResourceArn=integ.channel_arn)
    doc = policy(allow(partner.account_id, integ.channel_arn))
    r = ct.put_resource_policy(ResourceArn=integ.channel_arn, ResourcePolicy=doc)
    assert r["ResourceArn"] == integ.channel_arn
    assert json.loads(r["ResourcePolicy"]) == json.loads(doc)
    g = ct.get_resource_policy(ResourceArn=integ.channel_arn)
    assert g["ResourceArn"] == integ.channel_arn and json.loads(g["ResourcePolicy"]) == json.loads(doc)
    # Replacing it works; the latest one is returned.
    doc2 = policy(allow(f"arn:aws:iam::{partner.account_id}:root", integ.channel_arn, "ext-12345"))
    ct.put_resource_policy(ResourceArn=integ.channel_arn, ResourcePolicy=doc2)
    assert json.loads(ct.get_resource_policy(ResourceArn=integ.channel_arn)["ResourcePolicy"]) == json.loads(doc2)
    ct.delete_resource_policy(ResourceArn=integ.channel_arn)
    expect_error("ResourcePolicyNotFoundException", 404, ct.get_resource_policy, ResourceArn=integ.channel_arn)


def test_resource_policy_validation(ct, integ, owner, partner):
    chan = integ.channel_arn
    other = create_channel(ct, integ.eds_arn)["ChannelArn"]
    base = allow(partner.account_id, chan)
    no_principal = {k: v for k, v in base.items() if k != "Principal"}
    bad_docs = {
        "other-resource": policy(allow(partner.account_id, other)),
        "other-action": policy({**base, "Action": "cloudtrail:StartQuery"}),
        "action-wildcard-other-service": policy({**base, "Action": "s3:*"}),
        "no-principal": policy(no_principal),
        "bad-json": '{"Version": "2012-10-17", "Statement": [',
        "not-an-object": '"just a string"',
        "no-statement": json.dumps({"Version": "2012-10-17"}),
        "bad-effect": policy({**base, "Effect": "Maybe"}),
        "21-statements": policy(*[{**base, "Sid": f"S{i}"} for i in range(21)]),
    }
    for name, doc in bad_docs.items():
        e = expect_error("ResourcePolicyNotValidException", 400, ct.put_resource_policy, ResourceArn=chan, ResourcePolicy=doc)
        assert error_message(e), name
    expect_error("ResourcePolicyNotFoundException", 404, ct.get_resource_policy, ResourceArn=chan)
    # ResourceArn problems.
    expect_error("ResourceARNNotValidException", 400, ct.put_resource_policy, ResourceArn="not-an-arn",
                 ResourcePolicy=policy(base))
    unknown = f"arn:aws:cloudtrail:us-east-1:{owner.account_id}:channel/{uuid.uuid4()}"
    expect_error("ResourceNotFoundException", 400, ct.put_resource_policy, ResourceArn=unknown,
                 ResourcePolicy=policy(allow(partner.account_id, unknown)))


def test_resource_policy_accepts_aws_documented_example(ct, integ, owner, partner):
    """The example from the AWS docs, with our ARNs: two principals, an ExternalId condition, a Sid."""
    doc = {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ChannelPolicy",
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{owner.account_id}:root", f"arn:aws:iam::{partner.account_id}:root"]},
            "Action": "cloudtrail-data:PutAuditEvents",
            "Resource": integ.channel_arn,
            "Condition": {"StringEquals": {"cloudtrail:ExternalId": "uniquePartnerExternalID"}},
        }],
    }
    r = ct.put_resource_policy(ResourceArn=integ.channel_arn, ResourcePolicy=json.dumps(doc))
    assert json.loads(r["ResourcePolicy"]) == doc
