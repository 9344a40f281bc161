"""deploy/: the nightly backups (data kept long, keys kept short, apart) are whole or absent and pruned by age;
the units and nginx's file parse."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DAY = 24 * 3600


def _fake_personvern(tmp_path: Path, body: str) -> Path:
    """A stand-in for `personvern backup --out FILE` (the script only needs its exit code and the file)."""
    fake = tmp_path / "personvern"
    fake.write_text(f'#!/bin/sh\n[ "$1" = backup ] && [ "$2" = --out ] || exit 64\n{body}\n')  # $4: the part
    fake.chmod(0o755)
    return fake


def _backup(
    tmp_path: Path, fake: Path, keep_days: str = "14", keys_keep_days: str = "7"
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "PERSONVERN": str(fake),
        "PERSONVERN_BACKUP_DIR": str(tmp_path / "backups"),
        "PERSONVERN_BACKUP_KEEP_DAYS": keep_days,
        "PERSONVERN_KEYS_BACKUP_DIR": str(tmp_path / "keys"),
        "PERSONVERN_KEYS_BACKUP_KEEP_DAYS": keys_keep_days,
    }
    return subprocess.run([str(DEPLOY / "backup.sh")], env=env, capture_output=True, text=True, timeout=30, check=False)


def _aged(folder: Path, name: str, days: float) -> Path:
    path = folder / name
    path.write_text("old")
    then = time.time() - days * DAY
    os.utime(path, (then, then))
    return path


def test_data_and_keys_are_backed_up_apart_private_and_pruned_each_by_its_own_days(tmp_path: Path) -> None:
    folder, keys = tmp_path / "backups", tmp_path / "keys"
    folder.mkdir()
    keys.mkdir()
    old = _aged(folder, "personvern-data-20260101T023000Z.pvbackup", 20)
    recent = _aged(folder, "personvern-data-20261201T023000Z.pvbackup", 3)
    old_keys = _aged(keys, "personvern-keys-20261120T023000Z.pvbackup", 9)
    other = _aged(folder, "notes.txt", 40)  # not a backup of ours: left alone
    done = _backup(tmp_path, _fake_personvern(tmp_path, 'echo "$4" > "$3"'))
    assert done.returncode == 0, done.stderr
    made = sorted(set(folder.glob("personvern-data-*.pvbackup")) - {recent})
    made_keys = sorted(keys.glob("personvern-keys-*.pvbackup"))
    assert len(made) == 1 and len(made_keys) == 1
    assert made[0].read_text() == "--data-only\n" and made_keys[0].read_text() == "--keys-only\n"
    for backup in (made[0], made_keys[0]):
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600  # umask 077: the backup is its owner's only
        assert f"wrote {backup}" in done.stdout
    assert not old.exists() and not old_keys.exists()  # 20 > 14 days of data; 9 > 7 days of keys
    assert recent.exists() and other.exists()
    assert f"deleted (older than 14 days) {old}" in done.stdout
    assert f"deleted (older than 7 days) {old_keys}" in done.stdout


def test_a_failed_backup_leaves_no_partial_file_and_prunes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    old = _aged(folder, "personvern-data-20260101T023000Z.pvbackup", 20)
    # Half a file written, then a failure: neither it nor a pruned old backup may be left behind.
    done = _backup(tmp_path, _fake_personvern(tmp_path, 'echo half > "$3"; echo "error: disk full" >&2; exit 9'))
    assert done.returncode == 9
    assert "error: disk full" in done.stderr
    assert sorted(p.name for p in folder.iterdir()) == [old.name]


@pytest.mark.parametrize("keep", ["7d", "-1", "1.5"])
def test_keep_days_must_be_a_whole_number(tmp_path: Path, keep: str) -> None:
    done = _backup(tmp_path, _fake_personvern(tmp_path, 'echo backup > "$3"'), keep_days=keep)
    assert done.returncode == 2
    assert "PERSONVERN_BACKUP_KEEP_DAYS must be a whole number of days" in done.stderr
    assert not (tmp_path / "backups").exists() or not any((tmp_path / "backups").iterdir())


def test_pv_refuses_without_root() -> None:
    if os.geteuid() != 0:
        done = subprocess.run([str(DEPLOY / "pv"), "init"], capture_output=True, text=True, timeout=10, check=False)
    else:
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("runs as root here, and runuser (to be someone else) is not installed")
        # A copy in a folder anyone may enter: the checkout may sit under a home that `nobody` cannot reach.
        shared = Path(tempfile.mkdtemp(prefix="pv-"))
        try:
            shared.chmod(0o755)
            pv = shared / "pv"
            shutil.copy(DEPLOY / "pv", pv)
            pv.chmod(0o755)
            command = [runuser, "-u", "nobody", "--", str(pv), "init"]
            done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
        finally:
            shutil.rmtree(shared)
    assert done.returncode == 2, done.stderr
    assert "pv: run it with sudo" in done.stderr


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    # verify wants the programs the units start to exist: point them at this machine's /bin/true.
    names = ["personvern.service", "personvern-backup.service", "personvern-backup.timer"]
    for name in names:
        text = (DEPLOY / name).read_text()
        text = text.replace("/opt/personvern/bin/personvern", "/bin/true").replace(
            "/opt/personvern/deploy/backup.sh", "/bin/true"
        )
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [analyze, "verify", *names], cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_the_nginx_example_parses(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or next((p for p in ["/usr/sbin/nginx"] if Path(p).is_file()), None)
    openssl = shutil.which("openssl")
    if nginx is None or openssl is None:
        pytest.skip("nginx (apt-get install nginx-light) or openssl is not installed here")
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=personvern.example.no"]
    keys = ["-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")]
    subprocess.run([openssl, *request, *keys], capture_output=True, check=True, timeout=30)
    site = (DEPLOY / "nginx.conf").read_text()
    site = site.replace("/etc/ssl/personvern", str(tmp_path)).replace("/var/log/nginx", str(tmp_path))
    (tmp_path / "personvern.conf").write_text(site)
    # The file is written for /etc/nginx/conf.d/, inside nginx's http block: a minimal main file around it.
    temp = " ".join(f"{kind}_temp_path {tmp_path / kind};" for kind in ["client_body", "proxy", "fastcgi"])
    temp += f" uwsgi_temp_path {tmp_path / 'uwsgi'}; scgi_temp_path {tmp_path / 'scgi'};"
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{ {temp} include {tmp_path / 'personvern.conf'}; }}\n"
    )
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
