"""Bad input: a one-line message naming the file or option, exit code 2, nothing overwritten."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _labeled(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labeled.tsv").write_text(body, encoding="utf-8")
    return folder


def _cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    bad_relations = tmp / "rel.json"
    bad_relations.write_text("{not json")
    unlinked = tmp / "unlinked.json"
    unlinked.write_text('{"javascript": ["nothing-real"]}')
    empty = tmp / "empty"
    empty.mkdir()
    (tmp / "emptyfile").mkdir()
    (tmp / "emptyfile" / "labeled.tsv").write_text("")
    stacksample = tmp / "ss"
    stacksample.mkdir()
    (stacksample / "Questions.csv").write_text("Id,Title\n1,x\n")
    renamed = tmp / "renamed"
    renamed.mkdir()
    (renamed / "Questions.csv").write_text("Id,Headline\n1,x\n")
    (renamed / "Tags.csv").write_text("Id,Tag\n1,c#\n")
    return {
        "unknown scale": (["--scale", "huge"], "--scale"),
        "unknown suite": (["--suite", "nope"], "--suite"),
        "unknown experiment": (["--experiments", "table9"], "--experiments"),
        "experiment of other suite": (["--experiments", "fig3,nope"], "--experiments"),
        "unknown method": (["--methods", "BERT"], "--methods"),
        "unknown dataset": (["--datasets", "stackoverflow-3"], "stackoverflow-3"),
        "dataset of other suite": (["--datasets", "mjsynth-1"], "--datasets"),
        "dataset without jobs": (["--datasets", "stackoverflow-2", "--experiments", "fig6"],
                                 "--datasets"),
        "zero seeds": (["--seeds", "0"], "--seeds"),
        "negative jobs": (["--jobs", "-2"], "--jobs"),
        "missing data dir": (["--data-dir", str(tmp / "absent")], "absent"),
        "folder without data": (["--data-dir", str(empty)], "empty"),
        "empty labeled.tsv": (["--data-dir", str(tmp / "emptyfile")], "empty file"),
        "Tags.csv missing": (["--data-dir", str(stacksample)], "Tags.csv"),
        "renamed column": (["--data-dir", str(renamed)], "Title"),
        "bad tag list": (["--data-dir", str(_labeled(tmp / "tl", "title\ttags\nx\t[oops\n"))],
                         "row 2"),
        "wrong delimiter": (["--data-dir", str(_labeled(tmp / "delim", "title,tags\nx,['a']\n"))],
                            "missing column"),
        "no target tag": (["--data-dir", str(_labeled(tmp / "nt", "title\ttags\nx y\t['c#']\n"))],
                          "javascript"),
        "relations do not parse": (["--relations", str(bad_relations)], "rel.json"),
        "relations file missing": (["--relations", str(tmp / "none.json")], "none.json"),
        "relations link nothing": (["--relations", str(unlinked)], "unlinked.json"),
    }


@pytest.mark.parametrize("name", [
    "unknown scale", "unknown suite", "unknown experiment", "experiment of other suite",
    "unknown method", "unknown dataset", "dataset of other suite", "dataset without jobs",
    "zero seeds", "negative jobs", "missing data dir", "folder without data",
    "empty labeled.tsv", "Tags.csv missing", "renamed column", "bad tag list", "wrong delimiter",
    "no target tag", "relations do not parse", "relations file missing", "relations link nothing",
])
def test_bad_input_gives_one_line_and_exit_2(name, tmp_path, capsys):
    args, needle = _cases(tmp_path)[name]
    base = [] if "--suite" in args else ["--suite", "stackoverflow"]
    out = tmp_path / "out"
    code = main([*base, "--scale", "smoke", "--out", str(out), *args]
                 if "--scale" not in args else [*base, "--out", str(out), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0], err
    assert not (out / "stackoverflow-smoke" / "records.csv").exists()


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["--suite", "stackoverflow", "--scale", "smoke", "--out", str(blocker)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out"), err


def test_no_traceback_from_the_real_command(tmp_path):
    proc = subprocess.run([sys.executable, "run_all.py", "--suite", "stackoverflow",
                           "--methods", "nope", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --methods"), err


def test_listing_into_a_closed_pipe_is_quiet():
    """`run_all.py --list | head -1`: no BrokenPipeError traceback, exit 0. The pipe's reader
    is gone before the listing is written, so every write meets a closed pipe."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "run_all.py", "--list"], cwd=ROOT,
                              stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err
