#!/usr/bin/env python3
"""Crash test for Cairn's storage: SIGKILL under PutAuditEvents load, restart, and check every event with SQL.

Each cycle:

1. `cairn serve` runs on the run's data directory (127.0.0.1 only), with the flags that make background storage
   work frequent if the binary has them (`--flush-interval-ms 50`, `--retention-interval 1`, … see
   FAST_FLAG_VALUES; `--no-auto-flags` turns this off; arguments after `--` go to `cairn serve` as they are).
2. Several writer threads send PutAuditEvents with boto3 (retries off, so every request is attempted exactly
   once): batches of 1..100 events, each with a unique eventData.UID and a random amount of padding, to two
   channels: A feeds event data store A (default retention), AB feeds A and B. Event times are spread over the
   last 10 days (channel A) or 14 days (channel AB): several day partitions, each gathering small files that
   compaction merges. B keeps 14 days at first and 7 from the second cycle on (UpdateEventDataStore), so that
   retention passes drop whole days of B while the load runs and kills land.
3. After a random delay the server is killed with SIGKILL (in some cycles the writers stop a little before the
   kill, so that the kill lands while background work such as a flush or compaction runs on a quiet store).
4. The server is started again on the same data directory (in some cycles killed once more right after it came
   up, while it recovers) and every event data store is read back with SQL (StartQuery / GetQueryResults, paging
   through every result). After the last cycle, a graceful restart (SIGTERM) and one more check.

The checks, over everything sent to the data directory:

- every event whose PutAuditEvents answered successfully is present exactly once, under the eventID the
  response gave ("losses", "duplicates", "wrong eventIDs"), in every event data store its channel feeds (in B,
  events dated more than 5.5 days ago may be gone: B's retention);
- no event appears that was never sent ("unknown events"), and no eventID appears twice;
- a request that got no answer (in flight at the kill) is wholly present or wholly absent: a request's events
  commit atomically ("half-visible requests"), in every store alike ("split"); and it stays so in every later
  cycle ("vanished"/"resurrected");
- events refused per event (failed[]) or in a request answered with an error are absent, since the server says
  none of them was stored ("refused but stored").

It prints a summary and exits 1 on any violation (2 when the harness itself cannot run).

    scripts/crash-test --cycles 10 --seed 7
    scripts/crash-test --cycles 20 --keep-data -- --flush-interval-ms 20     # after `--`: `cairn serve` args
    # ~1 MB requests, so that kills land inside the ingest log's write(); fresh data every 5 cycles keeps it fast:
    scripts/crash-test --cycles 200 --pad-max 9000 --min-batch 60 --max-batch 90 --reset-every 5 \
        --quiet-kill-ratio 0 --restart-kill-ratio 0 --min-delay 0.3 --max-delay 1 --max-events-per-cycle 100000

The module is also imported by tests/e2e/test_crash.py (a short run in CI).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
E2E = HERE.parent / "e2e"
if str(E2E) not in sys.path:
    sys.path.insert(0, str(E2E))

import cairn_e2e as e2e  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

# ------------------------------------------------------------------------------------------------
# options


@dataclasses.dataclass
class Options:
    cycles: int = 5
    seed: int | None = None
    bin: str | None = None
    keep_data: bool = False
    data_dir: Path | None = None  # default: a fresh temporary directory
    writers: int = 4
    min_batch: int = 1
    max_batch: int = 100
    pad_max: int = 600  # bytes of padding per event (random 0..pad_max): frames of varying size
    min_kill_delay: float = 0.3  # seconds of load before the SIGKILL (uniform in [min, max])
    max_kill_delay: float = 3.0
    quiet_kill_ratio: float = 0.25  # share of cycles where the writers stop shortly before the kill
    restart_kill_ratio: float = 0.2  # share of cycles where the restarted server is killed again right away
    reset_every: int = 0  # start over on a fresh data directory every N cycles (0: never); bounds the checks
    max_events_per_cycle: int = 12000  # writers stop sending past this (bounds the data, hence each cycle's checks)
    server_args: list[str] = dataclasses.field(default_factory=list)
    auto_flags: bool = True  # add flags that make background storage work frequent, if the binary has them
    query_timeout: float = 180.0
    start_timeout: float = 60.0
    verbose: bool = True


# Flags of `cairn serve` that make background storage work (flushing the ingest log into tables, compaction,
# retention passes) happen often, so that kills land in the middle of it. Only the flags the tested binary lists
# in `cairn serve --help` are passed (see auto_server_args). Name -> value.
FAST_FLAG_VALUES: dict[str, str] = {
    "--flush-interval-ms": "50",
    "--compaction-interval-ms": "200",
    "--compact-interval-ms": "200",
    "--retention-interval": "1",
}
# Other interval flags of background storage work that the binary may list: milliseconds or seconds.
FAST_FLAG_PATTERNS: list[tuple[str, str]] = [
    (r"^--(flush|compact|compaction|checkpoint|vacuum|retention)[a-z-]*-(interval|every|period)-ms$", "100"),
    (r"^--(flush|compact|compaction|checkpoint|vacuum|retention)[a-z-]*-(interval|every|period)(-secs?)?$", "1"),
]


# ------------------------------------------------------------------------------------------------
# bookkeeping


@dataclasses.dataclass
class Request:
    key: str
    channel: str  # "A" (feeds eds A) or "AB" (feeds eds A and B)
    cycle: int
    uids: list[str]
    status: str = "pending"  # pending | acked | error | unanswered
    event_ids: dict[str, str] = dataclasses.field(default_factory=dict)  # uid -> eventID (successful)
    refused: set[str] = dataclasses.field(default_factory=set)  # uids in failed[]
    error: str = ""
    resolved: str | None = None  # for unanswered: present | absent | half


@dataclasses.dataclass
class Violation:
    kind: str
    cycle: int
    detail: str


KINDS = {
    "lost": "losses",
    "duplicate": "duplicates",
    "wrong_event_id": "wrong eventIDs",
    "unknown": "unknown events",
    "half_visible": "half-visible requests",
    "split": "requests split across event data stores",
    "vanished": "unanswered requests that vanished after being seen",
    "resurrected": "unanswered requests that appeared after being absent",
    "refused_stored": "refused events found stored",
    "server": "server failures",
}


SERVER_LOG_FILTER = "info,lake=debug,tables=debug,store=debug,deltalake=warn,deltalake_core=warn,buoyant_kernel=warn"

# Event data store B keeps events RETENTION_B_INITIAL_DAYS days at first, and from the second cycle on a data
# directory RETENTION_B_DAYS (AWS's minimum; UpdateEventDataStore), so that a retention pass drops whole days of
# its table while writers run and kills land. Events of channel AB older than EXPIRABLE_AGE may thus be gone
# from B at any check (the margin covers day boundaries); younger ones must be there.
RETENTION_B_INITIAL_DAYS = 14
RETENTION_B_DAYS = 7
EXPIRABLE_AGE = timedelta(days=5, hours=12)


def channel_stores(channel: str) -> tuple[str, ...]:
    return ("A",) if channel == "A" else ("A", "B")


# ------------------------------------------------------------------------------------------------
# the harness


def auto_server_args(binary: Path, given: list[str]) -> tuple[list[str], str]:
    """The FAST_FLAG_VALUES flags that `binary serve --help` lists and that `given` does not set yet."""
    try:
        proc = subprocess.run([str(binary), "serve", "--help"], capture_output=True, text=True, timeout=30)
        help_text = proc.stdout + proc.stderr
    except (OSError, subprocess.SubprocessError) as e:
        return [], f"could not run `{binary} serve --help`: {e}"
    listed = set(re.findall(r"(--[a-z0-9][a-z0-9-]*)", help_text))
    given_names = {a.split("=", 1)[0] for a in given if a.startswith("--")}
    out: list[str] = []
    chosen: dict[str, str] = {f: v for f, v in FAST_FLAG_VALUES.items() if f in listed}
    for flag in sorted(listed):
        for pattern, value in FAST_FLAG_PATTERNS:
            if flag not in chosen and re.match(pattern, flag):
                chosen[flag] = value
    for flag, value in chosen.items():
        if flag not in given_names:
            out += [flag, value]
    storage_flags = sorted(f for f in listed if re.search(r"flush|compact|retention|checkpoint|vacuum|table", f))
    note = "serve flags about background storage: " + (", ".join(storage_flags) if storage_flags else "none")
    return out, note


class CrashHarness:
    def __init__(self, opts: Options, log: Callable[[str], None] | None = None):
        self.opts = opts
        self.log = log or (lambda s: print(s, flush=True))
        self.seed = opts.seed if opts.seed is not None else random.SystemRandom().randrange(1, 2**31)
        self.rng = random.Random(self.seed)
        self.run_id = f"s{self.seed}-{uuid.uuid4().hex[:6]}"
        if opts.bin:
            os.environ["CAIRN_BIN"] = str(Path(opts.bin).resolve())
        self.binary = e2e.cairn_bin()
        self._tmp: str | None = None
        self.base: Path | None = None
        self.server: e2e.CairnServer | None = None
        self.owner: e2e.Creds | None = None
        self.eds: dict[str, tuple[str, str]] = {}  # "A"/"B" -> (arn, id)
        self.channels: dict[str, str] = {}  # "A"/"AB" -> channel ARN
        self.requests: list[Request] = []  # of the current data directory
        self.all_requests: list[Request] = []
        self.epoch = 0  # how many times the run started over on a fresh data directory (--reset-every)
        self.found_before: Counter = Counter()  # events found in the data directories of earlier epochs
        # Events of channel AB dated more than EXPIRABLE_AGE ago: event data store B keeps RETENTION_B_DAYS, so
        # a retention pass may drop them from B (never from A). Present or absent in B, both are fine.
        self.expirable: set[str] = set()
        self.expired_in_b: set[str] = set()  # expirable events seen absent from B
        self.expired_returned: set[str] = set()  # ... and seen again later (a warning, not a violation)
        self.lock = threading.Lock()
        self.violations: list[Violation] = []
        self.cycles_done = 0
        self.violations_before_epoch = 0
        self.epoch_cycles = 0  # cycles run on the current data directory
        self.kills_with_requests_in_flight = 0
        self.last_found: dict[str, int] = {}
        self.answered_errors: Counter = Counter()
        self.writer_exceptions: list[str] = []
        self.server_args: list[str] = []
        self.started = time.monotonic()
        self.cycle_times: list[float] = []
        self.log_stats: dict[str, int] = {}

    # -- setup / teardown
    def setup(self) -> None:
        if not self.binary.exists():
            raise HarnessError(f"cairn binary not found at {self.binary}: build it (cargo build -p cairn) or pass --bin")
        if self.opts.data_dir:
            self.base = Path(self.opts.data_dir).resolve()
            if self.base.exists() and any(self.base.iterdir()):
                raise HarnessError(f"{self.base} is not empty: the crash test needs a fresh directory")
            self.base.mkdir(parents=True, exist_ok=True)
        else:
            self._tmp = tempfile.mkdtemp(prefix="cairn-crash-")
            self.base = Path(self._tmp)
        extra, note = ([], "automatic flags off")
        if self.opts.auto_flags:
            extra, note = auto_server_args(self.binary, self.opts.server_args)
        self.server_args = [*extra, *self.opts.server_args]
        self.log(f"crash-test: seed {self.seed}, binary {self.binary}, data {self._data_dir()}")
        self.log(f"crash-test: {note}; passing: {' '.join(self.server_args) or '(nothing)'}")
        self._new_store()

    def _data_dir(self) -> Path:
        return self.base / ("data" if self.epoch == 0 else f"data-{self.epoch}")

    def _new_store(self) -> None:
        """A server on a fresh data directory, with event data stores A and B and channels A (-> A), AB (-> A, B)."""
        logs = self.base / ("logs" if self.epoch == 0 else f"logs-{self.epoch}")
        self.server = e2e.CairnServer(self._data_dir(), logs, extra_args=self.server_args)
        self._start_server()
        self.owner = self.server.root
        ct = self.server.ct(self.owner)
        for name in ("A", "B"):
            kw = {"RetentionPeriod": RETENTION_B_INITIAL_DAYS} if name == "B" else {}
            arn = e2e.create_integration_eds(ct, name=f"crash-{name}-{self.run_id}", **kw)["EventDataStoreArn"]
            self.eds[name] = (arn, arn.rsplit("/", 1)[-1])
        self.channels["A"] = e2e.create_channel(ct, self.eds["A"][0], name=f"crash-a-{self.run_id}")["ChannelArn"]
        self.channels["AB"] = ct.create_channel(
            Name=f"crash-ab-{self.run_id}",
            Source="Custom",
            Destinations=[{"Type": "EVENT_DATA_STORE", "Location": self.eds[n][0]} for n in ("A", "B")],
        )["ChannelArn"]

    def _log_stats(self) -> dict[str, int]:
        """What the server logs say happened in the background (with the default CAIRN_LOG of this harness)."""
        pats = {
            "flushes": "flushed the ingest log",
            "failed flushes": "flush failed",
            "compactions": "compacted small files",
            "retention drops": "dropped days past the retention period",
            "torn tails cut at start": "torn or corrupt tail",
            "panics": "panicked at",
        }
        out = dict.fromkeys(pats, 0)
        if self.base is None:
            return out
        for log in self.base.glob("logs*/*.log"):
            text = log.read_text(encoding="utf-8", errors="replace")
            for k, pat in pats.items():
                out[k] += text.count(pat)
        return out

    def teardown(self) -> None:
        if self.server is not None:
            try:
                self.server.kill()
            except Exception:  # noqa: BLE001 - best effort
                pass
        self.log_stats = self._log_stats()
        if self.log_stats.get("panics"):
            self._v("server", self.cycles_done, f"{self.log_stats['panics']} panics in the server logs ({self.base}/logs*)")
        if self._tmp and not self.opts.keep_data and not self.violations:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def _start_server(self) -> None:
        # The flusher's reports in the server logs (kept on a violation), without Delta Lake's chatter; only for
        # this process's servers (the e2e suite imports this module), and only if CAIRN_LOG is not set already.
        own_log = "CAIRN_LOG" not in os.environ
        if own_log:
            os.environ["CAIRN_LOG"] = SERVER_LOG_FILTER
        try:
            self.server.start(timeout=self.opts.start_timeout)
        except (AssertionError, Exception) as e:  # noqa: BLE001 - a server that cannot start again is a finding
            raise ServerFailure(f"cairn serve did not start on {self.server.data_dir}: {e}") from e
        finally:
            if own_log:
                os.environ.pop("CAIRN_LOG", None)

    # -- load
    def _event(self, uid: str, channel: str, rng: random.Random) -> dict:
        # One table partition per event day. Channel A: the last 10 days, inside A's default retention. Channel
        # AB: the last 14 days, so that B's retention (7 days) has whole days to drop. Few days, so that each
        # day's partition gathers small files quickly and compaction runs.
        now = datetime.now(timezone.utc)
        age = timedelta(days=rng.randrange(0, 10 if channel == "A" else 14), seconds=rng.randrange(0, 86400))
        day = now - age
        if channel != "A" and age > EXPIRABLE_AGE:
            self.expirable.add(uid)
        over: dict[str, Any] = {"eventTime": day.strftime("%Y-%m-%dT%H:%M:%SZ")}
        pad = rng.randrange(0, self.opts.pad_max + 1) if self.opts.pad_max else 0
        if pad:
            over["additionalEventData"] = {"pad": "p" * pad}
        return e2e.audit_event(uid, e2e.event_data(uid, self.owner.account_id, over))

    def _writer(self, cycle: int, w: int, stop: threading.Event, counts: Counter) -> None:
        rng = random.Random(f"{self.seed}-{cycle}-{w}")
        client = e2e.make_client(
            self.server.endpoint, "cloudtrail-data", self.owner,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        n = 0
        while not stop.is_set():
            if counts["events_sent"] >= self.opts.max_events_per_cycle:
                time.sleep(0.01)
                continue
            channel = "A" if rng.random() < 0.6 else "AB"
            size = rng.randint(self.opts.min_batch, self.opts.max_batch)
            key = f"{self.run_id}-c{cycle}-w{w}-r{n}"
            n += 1
            uids = [f"{key}-e{i}" for i in range(size)]
            events = [self._event(u, channel, rng) for u in uids]
            req = Request(key=key, channel=channel, cycle=cycle, uids=uids)
            with self.lock:
                self.requests.append(req)
                self.all_requests.append(req)
                counts["events_sent"] += size
            try:
                resp = client.put_audit_events(channelArn=self.channels[channel], auditEvents=events)
            except ClientError as e:
                err = e.response.get("Error", {})
                status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                req.status = "error"
                req.error = f"HTTP {status} {err.get('Code')}: {err.get('Message')}"
                with self.lock:
                    self.answered_errors[f"HTTP {status} {err.get('Code')}"] += 1
                counts["error"] += 1
                time.sleep(0.05)
                continue
            except Exception as e:  # noqa: BLE001 - connection reset/refused, timeouts: no answer
                req.status = "unanswered"
                req.error = f"{type(e).__name__}: {e}"
                counts["unanswered"] += 1
                return
            try:
                ok, bad = e2e.assert_partition(resp, uids)
            except AssertionError as e:
                req.status = "unanswered"  # a malformed answer acknowledges nothing
                req.error = f"malformed response: {e}"
                with self.lock:
                    self.writer_exceptions.append(f"{key}: {e}")
                    self._v("server", cycle, f"malformed PutAuditEvents response to {key}: {e}")
                return
            req.event_ids = ok
            req.refused = set(bad)
            req.status = "acked"
            counts["acked"] += 1

    def _load_and_kill(self, cycle: int) -> dict:
        stop = threading.Event()
        counts: Counter = Counter()
        threads = [
            threading.Thread(target=self._writer, args=(cycle, w, stop, counts), name=f"writer-{w}", daemon=True)
            for w in range(self.opts.writers)
        ]
        delay = self.rng.uniform(self.opts.min_kill_delay, self.opts.max_kill_delay)
        quiet = self.rng.random() < self.opts.quiet_kill_ratio
        quiet_gap = self.rng.uniform(0.05, 1.5) if quiet else 0.0
        for t in threads:
            t.start()
        end = time.monotonic() + delay
        while time.monotonic() < end:
            if not self.server.running:
                break
            time.sleep(0.01)
        if quiet:
            stop.set()
            for t in threads:
                t.join(timeout=60)
            time.sleep(quiet_gap)
        capped = counts["events_sent"] >= self.opts.max_events_per_cycle
        died = self.server.proc is not None and self.server.proc.poll() is not None
        exit_code = self.server.proc.returncode if died else None
        stop.set()
        self.server.kill()
        for t in threads:
            t.join(timeout=60)
            if t.is_alive():
                raise HarnessError(f"{t.name} still running 60 s after the kill")
        if died:
            self.violations.append(Violation("server", cycle, f"cairn serve exited by itself (code {exit_code}) under load"))
        for r in self.requests:
            if r.status == "pending":  # never answered (the thread was still waiting when it stopped)
                r.status = "unanswered"
        in_flight = sum(1 for r in self.requests if r.cycle == cycle and r.status == "unanswered")
        if in_flight and not quiet:
            self.kills_with_requests_in_flight += 1
        return {"delay": delay, "quiet": quiet, "capped": capped, "quiet_gap": quiet_gap, "in_flight": in_flight, **counts}

    # -- verification
    def _read_store(self, ct, name: str) -> list[tuple[str, str]]:
        eds_id = self.eds[name][1]
        r = e2e.run_query(ct, f"SELECT eventID, eventData.uid FROM {eds_id}", page_size=1000,
                          timeout=self.opts.query_timeout)
        rows = []
        for row in r.rows:
            d = dict(row)
            rows.append((d.get("eventID", row[0][1]), row[1][1]))
        return rows

    def verify(self, cycle: int) -> None:
        ct = self.server.ct(self.owner)
        found: dict[str, dict[str, list[str]]] = {}  # store -> uid -> [eventID...]
        for name in ("A", "B"):
            try:
                rows = self._read_store(ct, name)
            except (AssertionError, ClientError) as e:
                raise ServerFailure(f"query of event data store {name} failed after restart: {e}") from e
            self.last_found[name] = len(rows)
            by_uid: dict[str, list[str]] = defaultdict(list)
            id_count = Counter()
            for event_id, uid in rows:
                by_uid[uid].append(event_id)
                id_count[event_id] += 1
            for event_id, c in id_count.items():
                if c > 1:
                    self._v("duplicate", cycle, f"eventID {event_id} appears {c} times in event data store {name}")
            for uid, ids in by_uid.items():
                if len(ids) > 1:
                    self._v("duplicate", cycle, f"event {uid} appears {len(ids)} times in {name} (eventIDs {ids})")
            found[name] = by_uid
        sent = {}
        for r in self.requests:
            for u in r.uids:
                sent[u] = r
        for name, by_uid in found.items():
            for uid in by_uid:
                r = sent.get(uid)
                if r is None:
                    self._v("unknown", cycle, f"event {uid!r} in event data store {name} was never sent")
                elif name not in channel_stores(r.channel):
                    self._v("unknown", cycle, f"event {uid} of channel {r.channel} found in event data store {name}, which that channel does not feed")
        for r in self.requests:
            stores = channel_stores(r.channel)
            if r.status == "acked":
                for uid, event_id in r.event_ids.items():
                    for name in stores:
                        ids = found[name].get(uid)
                        if name == "B" and uid in self.expirable:
                            if not ids:
                                self.expired_in_b.add(uid)
                            elif uid in self.expired_in_b:
                                self.expired_returned.add(uid)
                            if ids and event_id not in ids:
                                self._v("wrong_event_id", cycle, f"acknowledged event {uid} has eventID {ids} in {name}, the response said {event_id}")
                            continue
                        if not ids:
                            self._v("lost", cycle, f"acknowledged event {uid} (eventID {event_id}, request {r.key}, cycle {r.cycle}) missing from event data store {name}")
                        elif event_id not in ids:
                            self._v("wrong_event_id", cycle, f"acknowledged event {uid} has eventID {ids} in {name}, the response said {event_id}")
                for uid in r.refused:
                    for name in stores:
                        if uid in found[name]:
                            self._v("refused_stored", cycle, f"event {uid} was refused in failed[] but is stored in {name}")
            elif r.status == "error":
                for name in stores:
                    present = [u for u in r.uids if u in found[name]]
                    if present:
                        self._v("refused_stored", cycle, f"request {r.key} was answered {r.error!r} but {len(present)}/{len(r.uids)} of its events are in {name}")
            elif r.status == "unanswered":
                per_store = {}
                states = set()
                for name in stores:
                    relevant = [u for u in r.uids if not (name == "B" and u in self.expirable)]
                    if not relevant:
                        continue
                    present = sum(1 for u in relevant if u in found[name])
                    per_store[name] = f"{present}/{len(relevant)}"
                    states.add("present" if present == len(relevant) else "absent" if present == 0 else "half")
                    if 0 < present < len(relevant):
                        self._v("half_visible", cycle, f"request {r.key} (no answer, {len(r.uids)} events, sent in cycle {r.cycle}) is half visible in {name}: {present} of its {len(relevant)} events present")
                if not states:
                    continue
                if len(states) > 1 and "half" not in states:
                    self._v("split", cycle, f"request {r.key} (no answer) is present in one event data store and absent from another: {per_store}")
                state = "half" if "half" in states or len(states) > 1 else states.pop()
                if r.resolved == "present" and state != "present":
                    self._v("vanished", cycle, f"request {r.key} (no answer, cycle {r.cycle}) was wholly present before and is now {state}")
                elif r.resolved == "absent" and state != "absent":
                    self._v("resurrected", cycle, f"request {r.key} (no answer, cycle {r.cycle}) was absent before and is now {state}")
                if r.resolved is None or r.resolved == "half":
                    r.resolved = state

    def _v(self, kind: str, cycle: int, detail: str) -> None:
        self.violations.append(Violation(kind, cycle, detail))

    # -- the run
    def run_cycle(self, cycle: int) -> None:
        t0 = time.monotonic()
        if not self.server.running:
            self._start_server()
        self.epoch_cycles += 1
        if self.epoch_cycles == 2:
            # B keeps 7 days from now on: the next retention passes drop its older days while the load runs.
            self.server.ct(self.owner).update_event_data_store(EventDataStore=self.eds["B"][0], RetentionPeriod=RETENTION_B_DAYS)
            self.log(f"cycle {cycle}: event data store B now keeps {RETENTION_B_DAYS} days (was {RETENTION_B_INITIAL_DAYS})")
        info = self._load_and_kill(cycle)
        kill_t = time.monotonic()
        self._start_server()
        restart_s = time.monotonic() - kill_t
        again = ""
        if self.rng.random() < self.opts.restart_kill_ratio:
            # Kill it again just after it came up (recovery, catching up on the log, a first flush), then start.
            pause = self.rng.uniform(0.0, 0.5)
            time.sleep(pause)
            self.server.kill()
            self._start_server()
            again = f", killed again {pause:.2f}s after the restart"
        before = len(self.violations)
        v0 = time.monotonic()
        self.verify(cycle)
        verify_s = time.monotonic() - v0
        self.cycles_done += 1
        dt = time.monotonic() - t0
        self.cycle_times.append(dt)
        if self.opts.verbose:
            mode = (f"quiet kill {info['quiet_gap']:.2f}s after load" if info["quiet"]
                    else "kill after the per-cycle event cap" if info["capped"] else "kill under load") + again
            self.log(
                f"cycle {cycle}: {info['delay']:.2f}s load, {mode}; acked {info.get('acked', 0)} requests, "
                f"{info['in_flight']} without answer, {info.get('error', 0)} errors; restart {restart_s:.1f}s, check {verify_s:.1f}s; "
                f"found A={self.last_found.get('A')} B={self.last_found.get('B')}; "
                f"{len(self.violations) - before} violations; {dt:.1f}s"
            )

    def _start_over(self) -> None:
        """--reset-every: a graceful restart and a last check, then a fresh data directory."""
        self.final_graceful_restart()
        self.server.kill()
        old = self._data_dir()
        self.found_before += Counter(self.last_found)
        self.last_found = {}
        if not self.opts.keep_data and len(self.violations) == self.violations_before_epoch:
            shutil.rmtree(old, ignore_errors=True)
        self.violations_before_epoch = len(self.violations)
        self.epoch += 1
        self.epoch_cycles = 0
        self.requests = []
        self.log(f"crash-test: starting over on {self._data_dir()}")
        self._new_store()

    def final_graceful_restart(self) -> None:
        """SIGTERM + start: whatever shutdown does, the same events are there afterwards."""
        rc = self.server.stop(timeout=30)
        if rc not in (0, None):
            self._v("server", self.cycles_done, f"cairn serve exited {rc} on SIGTERM")
        self._start_server()
        self.verify(self.cycles_done + 1)

    def run(self) -> "Summary":
        try:
            self.setup()
            for c in range(1, self.opts.cycles + 1):
                if self.opts.reset_every and c > 1 and (c - 1) % self.opts.reset_every == 0:
                    self._start_over()
                self.run_cycle(c)
            self.final_graceful_restart()
        except ServerFailure as e:
            self._v("server", self.cycles_done + 1, str(e))
            if self.server is not None:
                tail = "\n".join(self.server.log_text().splitlines()[-30:])
                self.log(f"crash-test: server failure: {e}\n--- last lines of {self.server.log_path}:\n{tail}")
        finally:
            self.teardown()
        return self.summary()

    # -- results
    def summary(self) -> "Summary":
        acked = [r for r in self.all_requests if r.status == "acked"]
        unanswered = [r for r in self.all_requests if r.status == "unanswered"]
        by_kind = Counter(v.kind for v in self.violations)
        return Summary(
            seed=self.seed,
            cycles=self.cycles_done,
            requests_sent=len(self.all_requests),
            requests_acked=len(acked),
            events_acked=sum(len(r.event_ids) for r in acked),
            events_refused=sum(len(r.refused) for r in acked),
            requests_error=sum(1 for r in self.all_requests if r.status == "error"),
            answered_errors=dict(self.answered_errors),
            requests_unanswered=len(unanswered),
            unanswered_present=sum(1 for r in unanswered if r.resolved == "present"),
            unanswered_absent=sum(1 for r in unanswered if r.resolved == "absent"),
            kills_with_requests_in_flight=self.kills_with_requests_in_flight,
            events_found=dict(self.found_before + Counter(self.last_found)),
            violations_by_kind={KINDS[k]: by_kind.get(k, 0) for k in KINDS},
            violations=self.violations,
            data_dir=str(self._data_dir()) if self.base else "",
            data_kept=bool(self.base) and (self.opts.keep_data or bool(self.violations) or not self._tmp),
            server_args=self.server_args,
            seconds=time.monotonic() - self.started,
            max_cycle_seconds=max(self.cycle_times, default=0.0),
            writer_exceptions=self.writer_exceptions,
            expirable_acked=sum(1 for r in acked for u in r.event_ids if u in self.expirable),
            expired_dropped=len(self.expired_in_b),
            expired_returned=len(self.expired_returned),
            log_stats=dict(self.log_stats),
        )


class HarnessError(Exception):
    pass


class ServerFailure(Exception):
    pass


@dataclasses.dataclass
class Summary:
    seed: int
    cycles: int
    requests_sent: int
    requests_acked: int
    events_acked: int
    events_refused: int
    requests_error: int
    answered_errors: dict
    requests_unanswered: int
    unanswered_present: int
    unanswered_absent: int
    kills_with_requests_in_flight: int
    events_found: dict
    violations_by_kind: dict
    violations: list[Violation]
    data_dir: str
    data_kept: bool
    server_args: list[str]
    seconds: float
    max_cycle_seconds: float
    writer_exceptions: list[str]
    expirable_acked: int = 0
    expired_dropped: int = 0
    expired_returned: int = 0
    log_stats: dict = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def report(self, max_details: int = 15) -> str:
        v = self.violations_by_kind
        lines = [
            "==================== crash-test summary ====================",
            f"seed                          {self.seed}",
            f"cycles                        {self.cycles}",
            f"requests sent                 {self.requests_sent}",
            f"requests acknowledged         {self.requests_acked}",
            f"events acknowledged           {self.events_acked}",
            f"events refused (failed[])     {self.events_refused}",
            f"requests answered with error  {self.requests_error} {self.answered_errors or ''}".rstrip(),
            f"requests without answer       {self.requests_unanswered} (then wholly present {self.unanswered_present}, wholly absent {self.unanswered_absent})",
            f"kills with requests in flight {self.kills_with_requests_in_flight}",
            "events found                  " + ", ".join(f"EDS {k}: {n}" for k, n in sorted(self.events_found.items())),
            f"past B's retention            {self.expirable_acked} acknowledged, {self.expired_dropped} seen dropped from B"
            + (f", {self.expired_returned} came back after (warning)" if self.expired_returned else ""),
            f"duplicates                    {v['duplicates']}",
            f"losses                        {v['losses']}",
            f"wrong eventIDs                {v['wrong eventIDs']}",
            f"unknown events                {v['unknown events']}",
            f"half-visible requests         {v['half-visible requests']}",
            f"split across stores           {v['requests split across event data stores']}",
            f"vanished / resurrected        {v['unanswered requests that vanished after being seen']} / {v['unanswered requests that appeared after being absent']}",
            f"refused but stored            {v['refused events found stored']}",
            f"server failures               {v['server failures']}",
            f"time                          {self.seconds:.1f}s (longest cycle {self.max_cycle_seconds:.1f}s)",
            f"serve args                    {' '.join(self.server_args) or '(none)'}",
            "server logs                   " + (", ".join(f"{k} {n}" for k, n in self.log_stats.items()) or "-"),
        ]
        if self.data_kept and self.data_dir:
            lines.append(f"data directory kept           {self.data_dir}")
        if self.writer_exceptions:
            lines.append(f"malformed responses           {len(self.writer_exceptions)}: {self.writer_exceptions[:3]}")
        if self.violations:
            lines.append(f"RESULT: FAILED, {len(self.violations)} violations; first {min(max_details, len(self.violations))}:")
            for x in self.violations[:max_details]:
                lines.append(f"  [cycle {x.cycle}] {KINDS[x.kind]}: {x.detail}")
        else:
            lines.append("RESULT: OK, no violations")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# command line


def parse_args(argv: list[str]) -> Options:
    passthrough: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, passthrough = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(
        prog="crash-test",
        description="SIGKILL cairn serve under PutAuditEvents load, restart it, and check every event with SQL.",
        epilog="Arguments after `--` are passed to `cairn serve` as they are.",
    )
    p.add_argument("--cycles", type=int, default=5, help="kill/restart cycles (default 5)")
    p.add_argument("--seed", type=int, help="random seed (batch sizes, channels, kill delays); printed if not given")
    p.add_argument("--bin", help="the cairn binary (default: $CAIRN_BIN, else ${CARGO_TARGET_DIR:-target}/debug/cairn)")
    p.add_argument("--keep-data", action="store_true", help="keep the data directory and server logs (kept anyway on a violation)")
    p.add_argument("--data-dir", type=Path, help="run in this (new or empty) directory instead of a temporary one")
    p.add_argument("--writers", type=int, default=4, help="concurrent writer threads (default 4)")
    p.add_argument("--max-batch", type=int, default=100, help="largest batch (default 100; sizes are uniform in 1..max)")
    p.add_argument("--pad-max", type=int, default=600, help="largest padding per event in bytes (default 600)")
    p.add_argument("--min-delay", type=float, default=0.3, help="shortest load before a kill, seconds (default 0.3)")
    p.add_argument("--max-delay", type=float, default=3.0, help="longest load before a kill, seconds (default 3)")
    p.add_argument("--quiet-kill-ratio", type=float, default=0.25,
                   help="share of cycles whose kill comes shortly after the load stops (default 0.25)")
    p.add_argument("--restart-kill-ratio", type=float, default=0.2,
                   help="share of cycles whose restarted server is killed again within 0.5 s (default 0.2)")
    p.add_argument("--reset-every", type=int, default=0, metavar="N",
                   help="start over on a fresh data directory every N cycles (default 0: never); keeps long runs fast")
    p.add_argument("--min-batch", type=int, default=1, help="smallest batch (default 1)")
    p.add_argument("--max-events-per-cycle", type=int, default=12000,
                   help="writers stop sending past this many events in a cycle (default 12000; bounds each cycle's check)")
    p.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                   help="one extra `cairn serve` argument (repeatable; or put them after `--`)")
    p.add_argument("--no-auto-flags", action="store_true",
                   help="do not add the fast-flush flags that the binary's `serve --help` lists")
    p.add_argument("-q", "--quiet", action="store_true", help="only the summary")
    a = p.parse_args(argv)
    if a.cycles < 1 or a.writers < 1 or not 1 <= a.min_batch <= a.max_batch <= 100 or a.min_delay < 0 or a.max_delay < a.min_delay:
        p.error("need --cycles >= 1, --writers >= 1, 1 <= --min-batch <= --max-batch <= 100, 0 <= --min-delay <= --max-delay")
    return Options(
        cycles=a.cycles, seed=a.seed, bin=a.bin, keep_data=a.keep_data, data_dir=a.data_dir, writers=a.writers,
        max_batch=a.max_batch, pad_max=a.pad_max, min_kill_delay=a.min_delay, max_kill_delay=a.max_delay,
        quiet_kill_ratio=a.quiet_kill_ratio, max_events_per_cycle=a.max_events_per_cycle,
        restart_kill_ratio=a.restart_kill_ratio, reset_every=a.reset_every, min_batch=a.min_batch, server_args=[*a.server_arg, *passthrough],
        auto_flags=not a.no_auto_flags, verbose=not a.quiet,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    harness = CrashHarness(opts)
    try:
        summary = harness.run()
    except HarnessError as e:
        print(f"crash-test: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crash-test: interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        return 2
    print(summary.report(), flush=True)
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
