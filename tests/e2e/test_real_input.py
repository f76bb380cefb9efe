"""Real CloudTrail records: `cairn convert` → `aws cloudtrail-data put-audit-events` → SQL counts per eventName.

The SQL counts table is saved to ${CARGO_TARGET_DIR:-target}/e2e-real-input-counts.txt for the closing note.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cairn_e2e import SHARED, cairn_bin, checksum, out_dir, run_aws, run_query, setup_integration

REAL = SHARED / "cases" / "data" / "real"
ID_RE = re.compile(r"^[-_A-Za-z0-9]{1,128}$")


def real_files() -> list[Path]:
    assert REAL.is_dir(), f"real CloudTrail data not found at {REAL} (set CAIRN_SHARED to the shared/ directory)"
    files = sorted((REAL / "invictus_aws_dataset" / "CloudTrail").glob("*.json"))
    files += sorted((REAL / "stratus_detonation_logs").glob("*.json"))
    return files


def load_records(path: Path) -> list[dict]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(doc, dict) and "Records" in doc:
        return doc["Records"]
    if isinstance(doc, list):
        return doc
    return [doc]


def convert(recipient: str, out: Path, files: list[Path]) -> list[Path]:
    proc = subprocess.run(
        [str(cairn_bin()), "convert", "--recipient-account-id", recipient, "--out-dir", str(out), *map(str, files)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"cairn convert failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    batches = sorted(out.glob("batch-*.json"))
    assert batches, f"cairn convert wrote no batch files to {out}:\n{proc.stdout}\n{proc.stderr}"
    names = [b.name for b in batches]
    assert names == [f"batch-{i:04d}.json" for i in range(1, len(batches) + 1)], names
    return batches


def check_batch(path: Path, recipient: str) -> list[dict]:
    entries = json.loads(path.read_text())
    assert isinstance(entries, list) and 1 <= len(entries) <= 100, f"{path.name}: {len(entries)} entries"
    ids = [e["id"] for e in entries]
    assert len(set(ids)) == len(ids), f"{path.name}: duplicate ids"
    for e in entries:
        assert set(e) == {"id", "eventData", "eventDataChecksum"}, e.keys()
        assert ID_RE.match(e["id"]), e["id"]
        assert e["eventDataChecksum"] == checksum(e["eventData"]), f"{path.name}/{e['id']}: checksum mismatch"
        d = json.loads(e["eventData"])
        assert d["recipientAccountId"] == recipient
        for f in ("version", "eventSource", "eventName", "eventTime", "UID"):
            assert isinstance(d.get(f), str) and d[f], f"{path.name}/{e['id']}: eventData.{f} missing: {d}"
        assert d["userIdentity"]["type"] and d["userIdentity"]["principalId"], d["userIdentity"]
    return entries


def test_convert_formats_and_batching(tmp_path):
    """Records JSON (gzip), a JSON array, NDJSON; 100 per batch; eventName kept."""
    recipient = "111122223333"
    src = tmp_path / "src"
    src.mkdir()
    gz = SHARED / "cases" / "data" / "cloudtrail" / "awsctpl_SerializerTestFileCompact.json.gz"
    array = REAL / "stratus_detonation_logs" / "aws.credential-access.ec2-get-password-data.json"
    invictus = sorted((REAL / "invictus_aws_dataset" / "CloudTrail").glob("*.json"))
    ndjson_records = [r for f in invictus for r in load_records(f)][:150]
    nd = src / "records.ndjson"
    nd.write_text("".join(json.dumps(r) + "\n" for r in ndjson_records))
    files = [gz, array, nd]
    expected = Counter(r["eventName"] for f in files for r in load_records(f))
    total = sum(expected.values())
    assert total == 6 + len(load_records(array)) + 150

    batches = convert(recipient, tmp_path / "out", files)
    entries = [e for b in batches for e in check_batch(b, recipient)]
    assert len(entries) == total
    assert len(batches) == -(-total // 100), f"{total} records should fill {-(-total // 100)} batches of ≤100"
    got = Counter(json.loads(e["eventData"])["eventName"] for e in entries)
    assert got == expected


def test_real_input_through_the_aws_cli(server, make_account, tmp_path):
    files = real_files()
    assert len(files) == 55 + 35, f"expected 90 source files under {REAL}, found {len(files)}"
    records = [r for f in files for r in load_records(f)]
    expected = Counter(r["eventName"] for r in records)
    assert sum(expected.values()) == len(records) == 3210

    owner = make_account("real-input")
    ct = server.ct(owner)
    integ = setup_integration(ct, owner)
    batches = convert(owner.account_id, tmp_path / "batches", files)
    n_entries = sum(len(check_batch(b, owner.account_id)) for b in batches)
    assert n_entries == 3210

    creds_file = tmp_path / "credentials"
    creds_file.write_text(f"[default]\naws_access_key_id = {owner.access_key_id}\n"
                          f"aws_secret_access_key = {owner.secret_access_key}\n")

    def send(batch: Path):
        r = run_aws(server.endpoint, ["cloudtrail-data", "put-audit-events", "--channel-arn", integ.channel_arn,
                                      "--audit-events", f"file://{batch}"], credentials_file=creds_file)
        return batch, r

    event_ids = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        for batch, r in pool.map(send, batches):
            assert r.rc == 0, f"{batch.name}: {r.display}"
            assert r.out["failed"] == [], f"{batch.name}: failed entries {r.out['failed'][:5]}"
            assert len(r.out["successful"]) == len(json.loads(batch.read_text()))
            event_ids += [e["eventID"] for e in r.out["successful"]]
    assert len(event_ids) == len(set(event_ids)) == 3210

    sql = f"SELECT eventData.eventName, COUNT(*) FROM {integ.eds_id} GROUP BY eventData.eventName"
    res = run_query(ct, sql, page_size=1000)
    got = {}
    for row in res.rows:
        (k1, name), (k2, count) = row
        assert (k1, k2) == ("eventName", "_col1"), row
        assert name not in got, f"eventName {name!r} appears twice in the GROUP BY result"
        got[name] = int(count)
    table = sorted(got.items(), key=lambda kv: (-kv[1], kv[0]))
    width = max(len(n) for n, _ in table)
    lines = [f"-- {len(files)} files, {len(records)} records, {len(batches)} batches sent with "
             f"`aws cloudtrail-data put-audit-events`",
             f"-- {sql.replace(integ.eds_id, '<EDS_ID>')}",
             f"{'eventName'.ljust(width)}  count  (expected from source files)"]
    lines += [f"{n.ljust(width)}  {c:5d}  ({expected.get(n, 0)})" for n, c in table]
    lines.append(f"{'TOTAL'.ljust(width)}  {sum(got.values()):5d}  ({sum(expected.values())})")
    (out_dir() / "e2e-real-input-counts.txt").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))

    missing = {k: v for k, v in expected.items() if got.get(k) != v}
    extra = {k: v for k, v in got.items() if k not in expected}
    assert not missing and not extra, f"count mismatches: expected {missing} / unexpected {extra}"
    assert got == dict(expected)
