"""Pinned CPU kernels for exact comparisons (bench.kernels), and the committed smoke reference
reproduced bit for bit by a fresh run, as CI's gate does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from bench import kernels, regress
from bench.errors import UserError
from bench.runner import RunContext, environment
from bench.scales import get_scale

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "results" / "reference" / "stackoverflow-smoke.json"


@pytest.mark.parametrize("argv,wanted", [
    (["--check", "ref.json", "--exact"], True),
    (["--save-reference", "ref.json"], True),
    (["--save-reference=ref.json"], True),
    (["--check", "ref.json"], False),  # the statistical check compares means, not bits
    (["--suite", "stackoverflow"], False),
])
def test_exact_comparisons_ask_for_pinned_kernels(argv, wanted):
    assert kernels.wants_pinned(argv) is wanted


def test_pinning_for_a_call_leaves_the_environment_as_it_was(monkeypatch):
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    with kernels.pinned_if_compared(["--exact"]) as pinned:
        assert pinned and all(os.environ[k] == v for k, v in kernels.PINNED.items())
    assert os.environ["MKL_CBWR"] == "COMPATIBLE" and "ATEN_CPU_CAPABILITY" not in os.environ


def test_records_say_which_kernels_they_ran_with(tmp_path, monkeypatch):
    for name in kernels.PINNED:
        monkeypatch.delenv(name, raising=False)
    ctx = RunContext("stackoverflow", get_scale("smoke"), tmp_path / "run", tmp_path / "cache")
    env = environment(ctx)
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert env["kernels"] == dict.fromkeys(kernels.PINNED) and not kernels.is_pinned(env)
    kernels.pin(os.environ)
    assert kernels.is_pinned(environment(ctx))


def test_exact_check_refuses_records_made_with_other_kernels():
    meta = {"threads": 1, "cpu_capability": "AVX2", "kernels": dict(kernels.PINNED)}
    same = {"threads": [1], "cpu_capability": ["AVX2"], "kernels": [dict(kernels.PINNED)]}
    regress.check_exact_comparable(meta, same, Path("ref.json"))  # no error
    for field, value in (("cpu_capability", "AVX512"), ("threads", 2),
                         ("kernels", dict.fromkeys(kernels.PINNED))):
        with pytest.raises(UserError, match=f"run's {field} .* differs from the reference's"):
            regress.check_exact_comparable(meta, {**same, field: [value]}, Path("ref.json"))
    regress.check_exact_comparable({"threads": 1}, same, Path("ref.json"))  # older reference


def test_committed_smoke_reference_is_reproduced_bit_for_bit(tmp_path):
    """CI's gate, in pytest: a fresh smoke run of the text suite, with the kernels pinned by
    run_all.py itself, reproduces every value of the committed reference on any x86 kind."""
    run = subprocess.run(
        [sys.executable, "run_all.py", "--suite", "stackoverflow", "--scale", "smoke",
         "--out", str(tmp_path), "--check", str(REFERENCE), "--exact"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={k: v for k, v in os.environ.items() if k not in kernels.PINNED})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "values are bit-identical" in run.stdout and "PASS" in run.stdout
    report = (tmp_path / "stackoverflow-smoke" / "report.md").read_text()
    assert "pinned for exact comparison" in report


@pytest.mark.slow
def test_pinned_kernels_are_what_an_avx2_machine_runs_natively(tmp_path):
    """On an AVX2-only machine an unpinned smoke run equals the committed (pinned) reference
    bit for bit: the pin selects exactly the kernels such a machine picks itself, so a
    reference made under the pin on an AVX-512 machine and one made on an AVX2 machine agree.
    (The default-run test above is the other direction: pinned runs on any kind.)"""
    native = subprocess.run([sys.executable, "-c", "import torch; "
                             "print(torch.backends.cpu.get_cpu_capability())"],
                            capture_output=True, text=True,
                            env={k: v for k, v in os.environ.items() if k not in kernels.PINNED})
    if native.stdout.strip() != "AVX2":
        pytest.skip(f"this machine's native ATen capability is {native.stdout.strip()}, not AVX2")
    env = {k: v for k, v in os.environ.items() if k not in kernels.PINNED}
    run = subprocess.run(
        [sys.executable, "run_all.py", "--suite", "stackoverflow", "--scale", "smoke",
         "--threads", "1", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
        timeout=900, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    _, reference = regress.load_reference(REFERENCE)
    new = pd.read_csv(tmp_path / "stackoverflow-smoke" / "records.csv")
    result = regress.check(reference, new, exact=True)
    assert result.n_compared == 2 * len(reference) and not result.failed, result.table.to_string()
