"""Reliability of the suite under kill -9, concurrent runs, failing jobs, reruns and bad input.

Runs of the real command go through a small driver (DRIVER) that counts, in a ledger file,
every job a process actually trains: that is how "each job done once" is proven without
touching the records. The default run uses a tiny grid (text-CNN + TF-IDF+LR, one seed); the
`slow` tests use a grid with ADDES generators and synthetic sets and 20 kills.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from addes import codec
from bench import io
from bench.cli import main

ROOT = Path(__file__).resolve().parents[1]
# one worker: the fault injection and the job ledger patch this process, not loky workers
SUITE = ["--suite", "stackoverflow", "--scale", "smoke", "--jobs", "1"]
SMALL = [*SUITE, "--experiments", "table2", "--methods", "text-CNN,TF-IDF+LR", "--seeds", "1"]
LARGE = [*SUITE, "--experiments", "table2,fig3", "--methods", "text-CNN,AugCNN,TF-IDF+LR",
         "--seeds", "1"]
RUN = "stackoverflow-smoke"

# Runs bench.cli.main; with $BENCH_TEST_LEDGER set, appends "<key> <pid>" for every job this
# process trains (an O_APPEND write of one short line: atomic between processes).
DRIVER = r"""
import os, sys
import bench.runner as runner
ledger = os.environ.get("BENCH_TEST_LEDGER")
if ledger:
    real = runner.run_job
    def counted(job, ctx, split=None):
        record = real(job, ctx, split)
        fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, f"{record['key']} {os.getpid()}\n".encode())
        os.close(fd)
        return record
    runner.run_job = counted
from bench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _env(ledger: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("ADDES_DATA", None)
    if ledger is not None:
        env["BENCH_TEST_LEDGER"] = str(ledger)
    return env


def _start(out: Path, grid: list[str], ledger: Path | None = None, log: Path | None = None):
    log = log or out.parent / f"{out.name}.log"
    return subprocess.Popen([sys.executable, "-c", DRIVER, *grid, "--out", str(out)], cwd=ROOT,
                            env=_env(ledger), stdout=subprocess.DEVNULL,
                            stderr=open(log, "ab"), start_new_session=True)


def _run(out: Path, grid: list[str], ledger: Path | None = None, timeout: float = 900) -> int:
    proc = _start(out, grid, ledger)
    return proc.wait(timeout=timeout)


def _records(out: Path) -> dict[str, dict]:
    """key -> what a record says about the result (status, error, metrics, sizes, params)."""
    result = {}
    for path in sorted((out / RUN / "records").glob("*.json")):
        record = json.loads(path.read_text())
        assert path.stem == record["key"]
        result[record["key"]] = {k: record[k] for k in
                                 ("status", "error", "metrics", "sizes", "params", "dataset",
                                  "method", "seed")}
    return result


def _check_nothing_torn(out: Path) -> None:
    """Every record parses and is finished; every cached artifact loads; records.csv parses."""
    for path in (out / RUN / "records").glob("*.json") if (out / RUN / "records").exists() else ():
        assert json.loads(path.read_text())["status"] in ("ok", "failed"), path
    for path in [*(out / "cache").rglob("*.npz"), *(out / "cache").rglob("*.pt")]:
        codec.read_parts(path)  # a torn artifact would raise here
    csv = out / RUN / "records.csv"
    if csv.exists():
        import pandas as pd

        assert len(pd.read_csv(csv)) > 0


def _ledger(path: Path) -> Counter:
    if not path.exists():
        return Counter()
    return Counter(line.split()[0] for line in path.read_text().splitlines() if line.strip())


@pytest.fixture(scope="module")
def small_baseline(tmp_path_factory) -> tuple[dict, float]:
    """Records of one uninterrupted run of the small grid, and its wall time."""
    out = tmp_path_factory.mktemp("baseline") / "out"
    t0 = time.monotonic()
    assert _run(out, SMALL) == 0
    return _records(out), time.monotonic() - t0


@pytest.fixture(scope="module")
def large_baseline(tmp_path_factory) -> tuple[dict, float]:
    out = tmp_path_factory.mktemp("baseline-large") / "out"
    t0 = time.monotonic()
    assert _run(out, LARGE) == 0
    return _records(out), time.monotonic() - t0


# ---------------------------------------------------------------------------------------------
# kill -9 at random moments, rerun after each


def _kill_and_resume(out: Path, grid: list[str], n_kills: int, max_delay: float, seed: int,
                     want: dict) -> dict:
    """SIGKILL runs of `grid` on `out` after seeded random delays in [0, max_delay], rerunning
    after each kill, until n_kills kills landed while a run was working. A rerun that finishes
    before its kill must give `want`; the folder is then wiped and the next kills hit a fresh
    run (from split building on), so kill moments cover the whole run. After every kill: no
    torn record, artifact or table. Finally one run to the end. Returns the counts."""
    rng = random.Random(seed)
    killed = finished = attempts = 0
    while killed < n_kills:
        attempts += 1
        assert attempts <= 4 * n_kills + 10, "runs keep finishing before their kill"
        proc = _start(out, grid, log=out.parent / "kills.log")
        try:
            proc.wait(timeout=rng.uniform(0, max_delay))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.returncode == -signal.SIGKILL:
            killed += 1
            _check_nothing_torn(out)
        else:
            assert proc.returncode == 0, (attempts, proc.returncode)
            finished += 1
            _assert_same_records(_records(out), want)
            shutil.rmtree(out)  # a fresh run for the next kills
    assert _run(out, grid) == 0
    _check_nothing_torn(out)
    import pandas as pd

    frame = pd.read_csv(out / RUN / "records.csv")
    assert not frame.duplicated(["experiment", "key"]).any()  # nothing duplicated
    _assert_same_records(_records(out), want)
    return {"killed": killed, "runs_finished_before_their_kill": finished, "attempts": attempts}


def _assert_same_records(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)  # nothing lost, nothing extra (one file per key)
    for key in want:
        assert got[key] == want[key], key  # same metrics, bit for bit


def test_three_kills_then_resume_equal_uninterrupted_run(small_baseline, tmp_path):
    want, duration = small_baseline
    counts = _kill_and_resume(tmp_path / "out", SMALL, n_kills=3, max_delay=duration, seed=3,
                              want=want)
    print(f"kill points survived: {counts}")


@pytest.mark.slow
def test_twenty_kills_then_resume_equal_uninterrupted_run(large_baseline, tmp_path):
    want, duration = large_baseline
    out = tmp_path / "out"
    counts = _kill_and_resume(out, LARGE, n_kills=20, max_delay=duration / 3, seed=20,
                              want=want)
    leftovers = list(out.rglob("*.tmp"))
    print(f"kill points survived: {counts}; temp files left by killed writes: {len(leftovers)}")
    # a kill mid-write leaves at most its one temporary file (bench/io.py), never a torn target
    assert len(leftovers) <= counts["killed"], leftovers
    assert all(p.name.startswith(".") for p in leftovers), leftovers


def test_kill_after_kth_record_keeps_it_and_rerun_trains_only_the_rest(small_baseline, tmp_path):
    """Records are saved as each job finishes: a run killed (SIGKILL) once its k-th record has
    appeared keeps those records byte for byte, leaves no temporary file, and the rerun trains
    exactly the jobs without a record."""
    want, _ = small_baseline
    k = 2
    assert len(want) > k
    out, first, second = tmp_path / "out", tmp_path / "ledger-1", tmp_path / "ledger-2"
    records = out / RUN / "records"
    proc = _start(out, SMALL, first)
    deadline = time.monotonic() + 600
    while len(list(records.glob("*.json"))) < k:
        assert proc.poll() is None, (f"the run ended (exit {proc.returncode}) before its "
                                     f"record {k} of {len(want)} appeared: records are not saved "
                                     "as jobs finish")
        assert time.monotonic() < deadline, "no record appeared in time"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.stem: p.read_bytes() for p in records.glob("*.json")}
    assert k <= len(before) < len(want), len(before)
    assert set(before) <= set(_ledger(first))  # each one trained by the killed run
    assert not list(out.rglob("*.tmp")), list(out.rglob("*.tmp"))
    assert _run(out, SMALL, second) == 0
    rerun = _ledger(second)
    assert set(rerun) == set(want) - set(before), (sorted(rerun), sorted(before))
    assert all(n == 1 for n in rerun.values()), rerun
    assert {k: (records / f"{k}.json").read_bytes() for k in before} == before  # kept as is
    _assert_same_records(_records(out), want)
    assert not list(out.rglob("*.tmp"))


# ---------------------------------------------------------------------------------------------
# two runs at once on one folder


def _two_at_once(grid: list[str], want: dict, tmp_path: Path) -> None:
    out, ledger = tmp_path / "out", tmp_path / "ledger"
    procs = [_start(out, grid, ledger, log=tmp_path / f"run{i}.log") for i in range(2)]
    assert [p.wait(timeout=900) for p in procs] == [0, 0]
    runs = _ledger(ledger)
    assert set(runs) == set(want)
    assert all(n == 1 for n in runs.values()), runs  # each job trained by exactly one process
    _assert_same_records(_records(out), want)
    pids = {line.split()[1] for line in ledger.read_text().splitlines()}
    print(f"jobs: {len(runs)}, each run once; processes that trained jobs: {len(pids)}")


def test_two_runs_at_once_do_each_job_once(small_baseline, tmp_path):
    _two_at_once(SMALL, small_baseline[0], tmp_path)


@pytest.mark.slow
def test_two_runs_at_once_do_each_job_once_with_generators(large_baseline, tmp_path):
    _two_at_once(LARGE, large_baseline[0], tmp_path)


# ---------------------------------------------------------------------------------------------
# determinism


@pytest.mark.slow  # the default run checks it too: the kill and two-at-once tests compare
# their records bit for bit with the baseline run, each from separate processes and folders
def test_two_runs_give_bit_identical_records(small_baseline, tmp_path):
    out = tmp_path / "out"
    assert _run(out, SMALL) == 0
    _assert_same_records(_records(out), small_baseline[0])


@pytest.mark.slow
def test_two_runs_give_bit_identical_records_with_generators(large_baseline, tmp_path):
    out = tmp_path / "out"
    assert _run(out, LARGE) == 0
    _assert_same_records(_records(out), large_baseline[0])


# ---------------------------------------------------------------------------------------------
# a job whose loss becomes NaN or diverges, end to end through the CLI


@pytest.fixture()
def keep_torch_threads():
    """bench.cli.main in-process sets torch's thread count for its workers: restore it."""
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_nan_and_diverging_jobs_fail_alone_and_exit_1(tmp_path, monkeypatch, capsys,
                                                     keep_torch_threads):
    from baselines import training

    real = training.fit_multilabel
    poison = iter([float("nan"), float("inf")])  # the first text-CNN job: NaN; the second: inf

    def faulty(model, x, y, **kw):
        factor = next(poison, 1.0)
        loss_fn = kw.pop("loss_fn", training.F.binary_cross_entropy_with_logits)
        return real(model, x, y, loss_fn=lambda a, b: loss_fn(a, b) * factor, **kw)

    monkeypatch.setattr(training, "fit_multilabel", faulty)
    out = tmp_path / "out"
    code = main([*SMALL, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    failed_lines = [line for line in err.splitlines() if line.startswith("bench: FAILED")]
    assert len(failed_lines) == 2, err
    assert any("nan" in line for line in failed_lines)
    assert any("inf" in line for line in failed_lines)
    assert all("text-CNN" in line for line in failed_lines)
    records = _records(out)
    by_method = Counter((r["method"], r["status"]) for r in records.values())
    assert by_method == {("text-CNN", "failed"): 2, ("TF-IDF+LR", "ok"): 2}  # the suite went on
    assert all("FloatingPointError" in r["error"] for r in records.values()
               if r["status"] == "failed")
    import pandas as pd

    frame = pd.read_csv(out / RUN / "records.csv")
    assert set(frame[frame.method == "text-CNN"].status) == {"failed"}
    lines = (out / RUN / "report.md").read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Dataset")
                  and "| text-CNN" in line)  # Table 2: one column per method
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[header:]
             if line.startswith("|")]
    cells = cells[:next(i for i, row in enumerate(cells[2:], 2) if len(row) != len(cells[0]))]
    col_cnn, col_lr = cells[0].index("text-CNN"), cells[0].index("TF-IDF+LR *")
    assert [row[col_cnn] for row in cells[2:]] == ["failed"] * 4, cells
    assert all(row[col_lr].startswith("**0.") for row in cells[2:]), cells
    assert "failed" in (out / RUN / "tables" / "table2.tex").read_text()
    # a rerun keeps the failures (and exit 1) without retraining; --retry-failed redoes them
    monkeypatch.setattr(training, "fit_multilabel", real)
    assert main([*SMALL, "--out", str(out)]) == 1
    assert main([*SMALL, "--out", str(out), "--retry-failed"]) == 0
    assert all(r["status"] == "ok" for r in _records(out).values())


# ---------------------------------------------------------------------------------------------
# torn cached artifacts are detected and rebuilt


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_torn_corpus_and_split_are_rebuilt(tmp_path):
    from bench.data.splits import load_split
    from bench.data.stackoverflow import load_corpus
    from bench.scales import get_scale

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    tags = ["javascript", "c#", "php", "java", "python", "html", "css", "jquery"]
    lines = ["title\ttags"]
    for i in range(900):
        chosen = sorted({str(t) for t in rng.choice(tags, size=2)})
        lines.append(f"question {i} about {' '.join(chosen)} w{i % 37}\t{chosen!r}")
    (data / "labeled.tsv").write_text("\n".join(lines) + "\n")
    cache = tmp_path / "cache"
    corpus = load_corpus(data, cache)
    scale = get_scale("smoke")
    split = load_split("stackoverflow-1", scale, data, cache)
    for keep in (0.0, 0.01, 0.5, 0.99):
        for path in [*cache.glob("corpus-*.npz"), *cache.glob("splits/*.npz")]:
            _truncate(path, keep)
        again = load_corpus(data, cache)
        assert again.titles == corpus.titles and np.array_equal(again.labels, corpus.labels)
        split2 = load_split("stackoverflow-1", scale, data, cache)
        assert np.array_equal(split2.labeled.x, split.labeled.x)
    # something that loads but is not a corpus is not trusted either
    path = next(cache.glob("corpus-*.npz"))
    io.atomic_save({"not": "a corpus"}, path)
    assert load_corpus(data, cache).titles == corpus.titles


def test_torn_generator_and_synthetic_set_are_rebuilt(smoke_split, tmp_path):
    from bench import artifacts
    from bench.scales import get_scale

    scale = replace(get_scale("smoke"), n_synthetic=40, synthetic_sweep=(0, 40),
                    addes_embed=8, addes_hidden=8, addes_latent=4, max_epochs=1)
    params = {"variant": "ADDES", "alpha": 0.1, "beta": 0.1, "n_synthetic": 40}
    kw = dict(seed=0, params=params, scale=scale, cache_dir=tmp_path)
    x0, y0 = artifacts.synthetic_training_set(smoke_split, **kw)
    gens = list((tmp_path / "generators").glob("*.pt"))
    sets = list((tmp_path / "synthetic").glob("*.npz"))
    assert len(gens) == 1 and len(sets) == 1
    for damaged in (sets, gens + sets):  # a torn D_s alone, then both torn
        for path in damaged:
            _truncate(path)
        x1, y1 = artifacts.synthetic_training_set(smoke_split, **kw)
        assert np.array_equal(x1.x, x0.x) and np.array_equal(y1, y0)  # rebuilt, same bytes
        for path in gens + sets:
            codec.read_parts(path)
    # a D_s of the wrong shape (e.g. from an older layout) is regenerated, not used
    io.atomic_save((x0, y0[:, :3]), sets[0], (type(x0),))
    x2, y2 = artifacts.synthetic_training_set(smoke_split, **kw)
    assert np.array_equal(y2, y0)


def test_atomic_writes_leave_target_whole_when_interrupted(tmp_path):
    target = tmp_path / "r.json"
    io.atomic_write_json(target, {"status": "ok"})

    class Boom(Exception):
        pass

    def explode(f):
        f.write(b'{"status": "o')
        raise Boom

    with pytest.raises(Boom):
        codec.atomic_write(target, explode)
    assert json.loads(target.read_text()) == {"status": "ok"}
    assert list(tmp_path.iterdir()) == [target]  # the temporary file is gone
    assert io.load_cached(tmp_path / "absent.npz") is None
    for junk in (tmp_path / "junk.npz", tmp_path / "junk.pt"):
        junk.write_bytes(b"\x00garbage")
        assert io.load_cached(junk) is None
        assert not junk.exists()


# ---------------------------------------------------------------------------------------------
# bad input: one line naming the file or option, exit 2, no traceback, nothing lost
# (tests/test_cli_errors.py has 18 more cases)


def _folder(tmp: Path, name: str, files: dict[str, bytes | str]) -> str:
    folder = tmp / name
    folder.mkdir(parents=True, exist_ok=True)
    for file, body in files.items():
        (folder / file).write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    return str(folder)


def _tsv(rows: list[str], header: str = "title\ttags") -> str:
    return "\n".join([header, *rows]) + "\n"


GOOD_ROWS = [f"how to bind click {i}\t['javascript', 'jquery']" for i in range(5)]


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    from bench import regress

    utf16 = _tsv(GOOD_ROWS).encode("utf-16")
    rng = random.Random(0)
    garbage = bytes(rng.randrange(256) for _ in range(4096))
    other_suite = tmp / "ref-mjsynth.json"
    other_suite.write_text(json.dumps({"meta": {"format": regress.FORMAT, "suite": "mjsynth",
                                                "scale": "smoke"}, "records": []}))
    not_a_reference = tmp / "not-ref.json"
    not_a_reference.write_text('{"hello": 1}')
    rel_list = tmp / "rel-list.json"
    rel_list.write_text('["javascript", "jquery"]')
    rel_entry = tmp / "rel-entry.json"
    rel_entry.write_text('{"javascript": "jquery"}')
    rel_utf16 = tmp / "rel-utf16.json"
    rel_utf16.write_bytes('{"javascript": ["jquery"]}'.encode("utf-16"))
    rel_folder = tmp / "rel-folder"
    rel_folder.mkdir()
    blocker = tmp / "blocker"
    blocker.write_text("a file")
    many = [f"{'x ' * (i % 3)}question {i}\t['javascript', 'c#']" for i in range(3)]
    return {
        # loaders: labeled.tsv
        "labeled.tsv UTF-16": (["--data-dir", _folder(tmp, "u16", {"labeled.tsv": utf16})],
                               "UTF-16"),
        "labeled.tsv binary": (["--data-dir", _folder(tmp, "bin", {"labeled.tsv": garbage})],
                               "labeled.tsv"),
        "labeled.tsv header only": (["--data-dir", _folder(tmp, "hdr", {"labeled.tsv": _tsv([])})],
                                    "no questions left"),
        "labeled.tsv no title column": (
            ["--data-dir", _folder(tmp, "notitle", {"labeled.tsv": _tsv(
                GOOD_ROWS, "text\ttags")})], "missing column(s) title"),
        "titles punctuation only": (
            ["--data-dir", _folder(tmp, "punct", {"labeled.tsv": _tsv(
                [f"?!... {'-' * (i + 1)}\t['javascript', 'c#']" for i in range(50)])})],
            "empty after tokenising"),
        "tag list not strings": (
            ["--data-dir", _folder(tmp, "ints", {"labeled.tsv": _tsv(["x y\t[1, 2]"])})],
            "tag list does not parse"),
        "tag list bare string": (
            ["--data-dir", _folder(tmp, "bare", {"labeled.tsv": _tsv(["x y\tjavascript"])})],
            "row 2"),
        "all tag lists empty": (
            ["--data-dir", _folder(tmp, "notags", {"labeled.tsv": _tsv(["x y\t[]"] * 5)})],
            "no questions left"),
        "split larger than the data": (
            ["--data-dir", _folder(tmp, "tiny", {"labeled.tsv": _tsv(many)})], "too few to split"),
        "unlabeled.tsv wrong column": (
            ["--data-dir", _folder(tmp, "unl", {"labeled.tsv": _tsv(GOOD_ROWS),
                                                "unlabeled.tsv": "text\nsome title\n"})],
            "unlabeled.tsv"),
        # loaders: StackSample
        "Questions.csv semicolons": (
            ["--data-dir", _folder(tmp, "semi", {"Questions.csv": "Id;Title\n1;x\n",
                                                 "Tags.csv": "Id,Tag\n1,javascript\n"})],
            "Questions.csv"),
        "Tags.csv empty": (["--data-dir", _folder(tmp, "tagsempty", {
            "Questions.csv": "Id,Title\n1,x\n", "Tags.csv": ""})], "Tags.csv: empty file"),
        "Tags.csv binary": (["--data-dir", _folder(tmp, "tagsbin", {
            "Questions.csv": "Id,Title\n1,x\n", "Tags.csv": garbage})], "Tags.csv"),
        "Questions.csv unknown target tag": (
            ["--data-dir", _folder(tmp, "ss-nojs", {
                "Questions.csv": "Id,Title\n" + "".join(f"{i},q {i}\n" for i in range(50)),
                "Tags.csv": "Id,Tag\n" + "".join(f"{i},python\n" for i in range(50))})],
            "javascript"),
        "data dir is a file": (["--data-dir", str(blocker)], "--data-dir"),
        # relations
        "relations is a list": (["--relations", str(rel_list)], "rel-list.json"),
        "relations entry not a list": (["--relations", str(rel_entry)], "rel-entry.json"),
        "relations UTF-16": (["--relations", str(rel_utf16)], "rel-utf16.json"),
        "relations is a folder": (["--relations", str(rel_folder)], "rel-folder"),
        # options
        "empty --methods": (["--methods", ","], "--methods"),
        "empty --experiments": (["--experiments", " , "], "--experiments"),
        "non-integer --seeds": (["--seeds", "two"], "--seeds"),
        "negative --seeds": (["--seeds", "-3"], "--seeds"),
        "zero --jobs": (["--jobs", "0"], "--jobs"),
        "empty --scale": (["--scale", ""], "--scale"),
        "unknown option": (["--bogus"], "--bogus"),
        "unwritable --out": (["--out", str(blocker / "sub")], "--out"),
        # regression gate
        "--check of another suite": (["--check", str(other_suite)], "suite 'mjsynth'"),
        "--check missing file": (["--check", str(tmp / "nope.json")], "nope.json"),
        "--check not a reference": (["--check", str(not_a_reference)], "not-ref.json"),
        "--exact without --check": (["--exact"], "--exact"),
        "negative --min-effect": (["--min-effect", "-0.5"], "--min-effect"),
    }




def _snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and "cache" not in p.relative_to(out).parts}


def test_bad_inputs_one_line_exit_2_nothing_lost(tmp_path, capsys, keep_torch_threads):
    cases = _bad_inputs(tmp_path)
    assert len(cases) >= 12
    out = tmp_path / "out"
    failures = []
    for name, (args, needle) in cases.items():
        # a previous run's results in every run folder this command could write to
        data = args[args.index("--data-dir") + 1] if "--data-dir" in args else None
        run_dirs = [out / RUN] + ([out / f"{RUN}-{Path(data).name}"] if data else [])
        for run_dir in run_dirs:
            (run_dir / "records").mkdir(parents=True, exist_ok=True)
            (run_dir / "records.csv").write_text(f"experiment,status\nprevious {name},ok\n")
            (run_dir / "records" / "abc.json").write_text('{"status": "ok"}\n')
        before = _snapshot(out)
        argv = [*SUITE, "--out", str(out), *args]
        if "--scale" in args:
            argv = ["--suite", "stackoverflow", "--out", str(out), *args]
        try:
            code = main(argv)
        except BaseException as err:  # noqa: BLE001 - a traceback is what we are hunting
            failures.append(f"{name}: raised {type(err).__name__}: {err}")
            continue
        err = capsys.readouterr().err.strip().splitlines()  # exactly one line: no traceback,
        if code != 2 or len(err) != 1 or not err[0].startswith("error:") or needle not in err[0]:
            failures.append(f"{name}: exit {code}, stderr {err[-5:]}")  # no warnings before it
        elif _snapshot(out) != before:
            failures.append(f"{name}: changed files in --out")
    assert not failures, "\n".join(failures)
    print(f"bad inputs tried here: {len(cases)}")


# every write going through bench/io.py: tests/test_atomic_writes.py (an AST scan)


def test_record_without_its_fields_is_redone(tmp_path):
    from bench.runner import load_record

    path = tmp_path / "abc.json"
    for body in ('{"status": "ok"}', '{"status": "ok", "metrics": {}, "timings": {}}',
                 '{"status": "ok", "metrics": [], "timings": {}, "key": "abc"}', "[]", "\x00"):
        path.write_text(body)
        assert load_record(path) is None, body
    path.write_text('{"status": "ok", "metrics": {}, "timings": {}, "key": "abc"}')
    assert load_record(path) is not None
