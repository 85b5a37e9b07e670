"""Atomic publication of several tables at once: all old or all new, nothing lost, nothing mixed."""

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trip_features.storage.file_publication import (
    current_table,
    publish,
    remove_dead_staging,
    run_staging,
)


def _staged(out: Path, run: str, tables: dict[str, list[str]]) -> dict[str, Path]:
    staged = {}
    for table, dates in tables.items():
        folder = run_staging(out, run) / table
        folder.mkdir(parents=True)
        for date in dates:
            (folder / f"date={date}").mkdir()
            (folder / f"date={date}" / "part-00000.parquet").write_text(f"{run} {table} {date}")
        staged[table] = folder
    return staged


def _content(out: Path, table: str) -> dict[str, str]:
    root = out / table
    return {p.parent.name: p.read_text() for p in sorted(root.glob("date=*/*.parquet"))}


def test_tables_of_a_run_switch_together(tmp_path):
    publish(tmp_path, _staged(tmp_path, "a", {"t1": ["2026-01-01"], "t2": ["2026-01-01"]}), "a")
    current = tmp_path / ".current"
    before = os.readlink(current)
    publish(tmp_path, _staged(tmp_path, "b", {"t1": ["2026-01-01"], "t2": ["2026-01-01"]}), "b")
    assert os.readlink(current) != before  # one link moved; both tables read through it
    assert os.readlink(tmp_path / "t1") == os.path.join(".current", "t1")
    assert _content(tmp_path, "t1") == {"date=2026-01-01": "b t1 2026-01-01"}
    assert _content(tmp_path, "t2") == {"date=2026-01-01": "b t2 2026-01-01"}


def test_a_publication_replaces_its_dates_and_links_the_rest(tmp_path):
    publish(tmp_path, _staged(tmp_path, "a", {"t": ["2026-01-01", "2026-01-02"], "u": ["x"]}), "a")
    first = current_table(tmp_path, "t")
    publish(tmp_path, _staged(tmp_path, "b", {"t": ["2026-01-02"]}), "b")
    assert _content(tmp_path, "t") == {
        "date=2026-01-01": "a t 2026-01-01",
        "date=2026-01-02": "b t 2026-01-02",
    }
    assert _content(tmp_path, "u") == {"date=x": "a u x"}  # a table the run did not stage
    kept = tmp_path / "t" / "date=2026-01-01" / "part-00000.parquet"
    assert kept.stat().st_ino == (first / "date=2026-01-01" / "part-00000.parquet").stat().st_ino


def test_replaced_dates_without_rows_disappear(tmp_path):
    publish(tmp_path, _staged(tmp_path, "a", {"t": ["2026-01-01", "2026-01-02"]}), "a")
    publish(tmp_path, _staged(tmp_path, "b", {"t": []}), "b", lambda d: d.endswith("01-02"))
    assert list(_content(tmp_path, "t")) == ["date=2026-01-01"]


def _publish_many(out: str, worker: int, rounds: int) -> None:
    for i in range(rounds):
        run = f"w{worker}r{i}"
        date = f"2026-0{worker}-{i + 10:02d}"
        publish(out, _staged(Path(out), run, {"t": [date], "q": [date]}), run)


def test_concurrent_publications_keep_every_date(tmp_path):
    workers = [
        multiprocessing.Process(target=_publish_many, args=(str(tmp_path), w, 8)) for w in (1, 2, 3)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    expected = sorted(f"date=2026-0{w}-{i + 10:02d}" for w in (1, 2, 3) for i in range(8))
    for table in ("t", "q"):
        assert sorted(p.name for p in (tmp_path / table).iterdir()) == expected
    assert len(list((tmp_path / ".versions").iterdir())) <= 2  # old versions cleaned up


def test_staging_of_dead_runs_is_removed_and_of_live_runs_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = tmp_path / ".staging" / f"run-{dead.pid}"
    live = tmp_path / ".staging" / f"run-{os.getpid()}"
    gone.mkdir(parents=True)
    live.mkdir(parents=True)
    assert remove_dead_staging(tmp_path) == [gone]
    assert live.exists() and not gone.exists()


@pytest.mark.parametrize("point", ["publish:assembled"])
def test_a_publication_killed_before_its_swap_changes_nothing(tmp_path, point):
    publish(tmp_path, _staged(tmp_path, "a", {"t": ["2026-01-01"], "u": ["2026-01-01"]}), "a")
    code = (
        "import sys; from pathlib import Path; from trip_features.storage.file_publication import publish\n"
        "out = Path(sys.argv[1]); staged = {}\n"
        "for t in ('t', 'u'):\n"
        "    d = out / '.staging' / 'b-1' / t / 'date=2026-01-01'; d.mkdir(parents=True)\n"
        "    (d / 'part-00000.parquet').write_text('b'); staged[t] = d.parent\n"
        "publish(out, staged, 'b')\n"
    )
    env = {**os.environ, "TRIP_FEATURES_KILL_AT": point}
    killed = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, check=False)
    assert killed.returncode == -9
    assert (tmp_path / ".versions" / "b").exists()  # it got as far as assembling
    for table in ("t", "u"):
        assert _content(tmp_path, table) == {"date=2026-01-01": f"a {table} 2026-01-01"}


def test_a_folder_another_tool_wrote_under_a_tables_name_stops_the_run_untouched(tmp_path):
    from trip_features.runtime.errors import JobError

    publish(tmp_path, _staged(tmp_path, "a", {"t": ["2026-01-01"]}), "a")
    foreign = tmp_path / "u" / "date=2026-01-01"
    foreign.mkdir(parents=True)
    (foreign / "theirs.parquet").write_text("not ours")
    before = os.readlink(tmp_path / ".current")
    staged = _staged(tmp_path, "b", {"t": ["2026-01-02"], "u": ["2026-01-01"]})
    with pytest.raises(JobError, match=r"u exist\(s\) but were not published here: move them"):
        publish(tmp_path, staged, "b")
    assert (foreign / "theirs.parquet").read_text() == "not ours"
    assert os.readlink(tmp_path / ".current") == before
    assert _content(tmp_path, "t") == {"date=2026-01-01": "a t 2026-01-01"}
