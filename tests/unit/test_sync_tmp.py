"""sync's staging dirs live under $HUBVER_HOME/sync-tmp/; a killed run's dir is removed by the next run."""

import subprocess
import sys

from hubver.sync_tmp import OWNER, sync_temp_dir


def test_a_killed_runs_dir_is_swept_and_a_live_ones_kept(tmp_path):
    base = tmp_path / "sync-tmp"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (base / "run-dead").mkdir(parents=True)
    (base / "run-dead" / OWNER).write_text(f"{dead.pid} 1\n")
    (base / "run-dead" / "blob").write_bytes(b"x" * 1000)
    with sync_temp_dir(tmp_path) as d:
        assert d.parent == base and (d / OWNER).read_text().split()[0] == str(__import__("os").getpid())
        assert not (base / "run-dead").exists()
        with sync_temp_dir(tmp_path) as other:  # a live run's dir is kept
            assert d.exists() and other != d
    assert list(base.iterdir()) == []
