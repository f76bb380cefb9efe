"""The data directory holds every account's secret access keys (metadata.db and its WAL) and every event: `cairn serve`
creates it with mode 0700, whatever the umask, and restricts an existing one to 0700 (saying so in its log);
`cairn accounts create` restricts it too. So no other local user can read anything inside, whatever the files' modes.

The data directories here live in a directory every user may traverse (not pytest's private tmp_path), so that when the
tests run as root, "user nobody cannot read the keys" is a real check and not one its parent directories make for it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from cairn_e2e import CairnServer, cairn_bin, create_account

NOBODY = 65534


def mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def as_nobody(*cmd: str) -> subprocess.CompletedProcess:
    def drop():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, preexec_fn=drop)


@pytest.fixture
def open_base():
    """A directory under the system temp dir that every user may traverse (mode 0755)."""
    base = Path(tempfile.mkdtemp(prefix="cairn-e2e-datadir-"))
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def assert_other_users_locked_out(data_dir: Path, secret: str | None = None):
    """Mode 0700; and when the tests run as root, user nobody can reach the directory but not list or read it."""
    assert mode(data_dir) == 0o700, oct(mode(data_dir))
    if os.geteuid() != 0:
        return
    r = as_nobody("ls", str(data_dir.parent))
    assert r.returncode == 0, f"user nobody cannot even reach {data_dir.parent}, so this check would prove nothing: {r.stderr}"
    r = as_nobody("ls", str(data_dir))
    assert r.returncode != 0 and "Permission denied" in r.stderr, (r.returncode, r.stdout, r.stderr)
    for target in ("metadata.db", "metadata.db-wal", "root-credentials"):
        if (data_dir / target).exists():
            r = as_nobody("cat", str(data_dir / target))
            assert r.returncode != 0 and "Permission denied" in r.stderr, (target, r.returncode, r.stderr)
    if secret:
        r = as_nobody("grep", "-rl", secret, str(data_dir))
        assert r.returncode != 0 and r.stdout == "" and "Permission denied" in r.stderr, (r.stdout, r.stderr)


def test_serve_creates_the_data_dir_private_even_with_umask_0(open_base):
    parent = open_base / "fresh"
    data_dir = parent / "cairn-data"
    log_path = open_base / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(cairn_bin()), "serve", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=lambda: os.umask(0),
            env={**os.environ, "NO_COLOR": "1"},
        )
    try:
        deadline = time.monotonic() + 60
        while "listening on http://" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.05)
        text = log_path.read_text(errors="replace")
        assert "created the data directory (mode 0700)" in text, text
        assert (data_dir / "metadata.db").exists() and (data_dir / "root-credentials").exists()
        # With umask 0 the files inside are world-readable themselves; the directory keeps them out of reach.
        root_secret = re.search(r"SecretAccessKey: (\S+)", text).group(1)
        assert_other_users_locked_out(data_dir, root_secret)
        # Its parent is an ordinary directory (created with the umask, here 0), not 0700.
        assert mode(parent) == 0o777, oct(mode(parent))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_an_existing_open_data_dir_is_restricted_at_start(open_base):
    # An existing data directory readable by everyone, as earlier Cairn versions left it: 0755.
    data_dir = open_base / "open-data"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)
    srv = CairnServer(data_dir, open_base / "logs")
    try:
        srv.start()
        assert "the data directory had mode 0755; set it to 0700" in srv.log_text(), srv.log_text()
        acct = srv.create_account("first")
        assert_other_users_locked_out(data_dir, acct.secret_access_key)

        # Opened up again behind its back: a restart restricts it again, and `cairn accounts create` does too.
        os.chmod(data_dir, 0o755)
        srv.restart()
        assert "had mode 0755; set it to 0700" in srv.log_text(), srv.log_text()
        assert_other_users_locked_out(data_dir, srv.root.secret_access_key)
        os.chmod(data_dir, 0o711)
        proc = subprocess.run(
            [str(cairn_bin()), "accounts", "create", "--data-dir", str(data_dir), "--name", "after-chmod"],
            capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "had mode 0711; set it to 0700" in proc.stderr, proc.stderr
        assert_other_users_locked_out(data_dir, acct.secret_access_key)
        # Already private: nothing to say.
        srv.restart()
        assert "set it to 0700" not in srv.log_text() and "created the data directory" not in srv.log_text()
        create_account(data_dir, "quiet")
        assert mode(data_dir) == 0o700
    finally:
        srv.stop()
