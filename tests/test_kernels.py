"""Pinned CPU kernels for exact comparisons (bench.kernels), and the committed smoke reference
reproduced bit for bit by a fresh run, as CI's gate does."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

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
    meta = {"threads": 1, "cpu_capability": "AVX2", "kernels": dict(kernels.PINNED),
            "cpu_kind": "AuthenticAMD avx2"}
    same = {"threads": [1], "cpu_capability": ["AVX2"], "kernels": [dict(kernels.PINNED)],
            "cpu_kind": ["AuthenticAMD avx2"]}
    regress.check_exact_comparable(meta, same, Path("ref.json"))  # no error
    for field, value in (("cpu_capability", "AVX512"), ("threads", 2),
                         ("cpu_kind", "GenuineIntel avx512"),
                         ("kernels", dict.fromkeys(kernels.PINNED))):
        with pytest.raises(UserError, match=f"run's {field} .* differs from the reference's"):
            regress.check_exact_comparable(meta, {**same, field: [value]}, Path("ref.json"))
    regress.check_exact_comparable({"threads": 1}, same, Path("ref.json"))  # older reference


def test_committed_smoke_reference_is_reproduced_bit_for_bit(tmp_path):
    """CI's gate, in pytest: a fresh smoke run of the text suite, with the kernels pinned by
    run_all.py itself, reproduces every value of the committed reference made on this kind of
    CPU (vendor and widest SIMD family; `stackoverflow-smoke*.json`, one file per kind). Where
    there is none, `stackoverflow-smoke.json` is used and `--exact` would be refused (an
    AVX-512 Xeon and an AMD EPYC differ in 8 Zero-shot values under the pin, README), so there
    the run must pass the statistical gate instead, and the bit-for-bit part is skipped."""
    kinds = {path: json.loads(path.read_text())["meta"].get("cpu_kind")
             for path in sorted(REFERENCE.parent.glob("stackoverflow-smoke*.json"))}
    reference = next((p for p, k in kinds.items() if k == kernels.cpu_kind()), REFERENCE)
    reference_kind = kinds[reference]
    same_kind = reference_kind in (None, kernels.cpu_kind())
    exact = ["--exact"] if same_kind else []
    run = subprocess.run(
        [sys.executable, "run_all.py", "--suite", "stackoverflow", "--scale", "smoke",
         "--out", str(tmp_path), "--check", str(reference), *exact],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={k: v for k, v in os.environ.items() if k not in kernels.PINNED})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "PASS" in run.stdout
    if not same_kind:
        pytest.skip(f"reference made on a {reference_kind} CPU, this is a {kernels.cpu_kind()}: "
                    "statistical gate passed; bits are compared within a CPU kind")
    assert "values are bit-identical" in run.stdout
    report = (tmp_path / "stackoverflow-smoke" / "report.md").read_text()
    assert "pinned for exact comparison" in report


def _fingerprint(settings: dict[str, str], cpu: str | None = None) -> dict[str, str]:
    """Per-kernel-family hashes (tests/kernel_fingerprint.py) under `settings`, natively or
    under `qemu-x86_64 -cpu <cpu>` (an emulated CPU with that vendor, model and ISA)."""
    env = {**{k: v for k, v in os.environ.items() if k not in kernels.PINNED}, **settings}
    prefix = ["qemu-x86_64", "-cpu", cpu] if cpu else []
    run = subprocess.run([*prefix, os.path.realpath(sys.executable),
                          str(ROOT / "tests" / "kernel_fingerprint.py")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


def test_pinned_kernels_give_the_same_bits_in_a_fresh_process():
    """The fingerprint the emulated-CPU test compares is deterministic under the pin."""
    assert _fingerprint(dict(kernels.PINNED)) == _fingerprint(dict(kernels.PINNED))


@pytest.mark.skipif(platform.machine() != "x86_64", reason="OpenBLAS kernel names are x86's")
def test_pinned_numpy_blas_runs_the_kernels_every_x86_kind_has():
    """numpy's and scipy's OpenBLAS pick SkylakeX kernels on AVX-512 Intel CPUs and Haswell
    ones on AMD: a reference made on a Xeon failed on an EPYC in 8 Zero-shot values (their
    class embeddings come from a randomized SVD) until OpenBLAS was pinned too."""
    pinned = _fingerprint(dict(kernels.PINNED))
    assert pinned["openblas"] == ["Haswell"]
    other = _fingerprint({**kernels.PINNED, "OPENBLAS_CORETYPE": "Sandybridge"})
    assert other["openblas"] == ["Sandybridge"]  # the control: the family sets the bits
    assert other["randomized SVD"] != pinned["randomized SVD"]


@pytest.mark.skipif(platform.machine() != "x86_64", reason="numpy's x86 SIMD targets")
def test_pinned_numpy_loops_never_run_avx512():
    """numpy's ufunc loops dispatch up to AVX-512 where the CPU has it; under the pin they stop
    below it on every x86 kind. The control shows the SIMD level sets the bits: without AVX2
    (X86_V3) numpy's float32 exp/log/tanh differ from its AVX2 loops."""
    pinned = _fingerprint(dict(kernels.PINNED))
    assert not [t for t in pinned["numpy simd"] if "512" in t or t == "X86_V4"], pinned
    if "X86_V3" not in pinned["numpy simd"]:
        pytest.skip("this CPU has no AVX2 loops in numpy to compare with")
    features = kernels.PINNED["NPY_DISABLE_CPU_FEATURES"] + " X86_V3"
    without_avx2 = _fingerprint({**kernels.PINNED, "NPY_DISABLE_CPU_FEATURES": features})
    assert "X86_V3" not in without_avx2["numpy simd"]
    assert without_avx2["numpy exp/log/tanh"] != pinned["numpy exp/log/tanh"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-x86_64") is None or platform.machine() != "x86_64",
                    reason="needs qemu-x86_64 (Debian: apt install qemu-user) on x86_64")
def test_pinned_kernels_compute_the_same_bits_on_intel_and_amd_cpus():
    """Under the pin, an emulated AMD EPYC computes every kernel family of the suite bit for
    bit as an emulated Intel Haswell (AVX2, no AVX-512) does: MKL, oneDNN and ATen dispatch
    the same code on both vendors. The control shows the emulation tells them apart: with
    MKL's AVX2 branch (the old pin) the EPYC runs MKL's Zen GEMM and differs, which is why
    references made on AMD machines failed the gate on Intel ones.

    Both sides are emulated because qemu's arithmetic is not the hardware's in every last bit
    (MKL's SSE2 square root differs from this machine's under qemu for either vendor; under
    valgrind, which runs it on the host's FPU, it agrees), so the vendor is the only
    difference between the two runs."""
    pinned = dict(kernels.PINNED)
    epyc, haswell = _fingerprint(pinned, "EPYC-Rome"), _fingerprint(pinned, "Haswell")
    assert epyc["capability"] == haswell["capability"] == "AVX2"
    assert epyc == haswell
    avx2_branch = {**pinned, "MKL_CBWR": "AVX2,STRICT"}
    zen, intel = (_fingerprint(avx2_branch, cpu)["gemm"] for cpu in ("EPYC-Rome", "Haswell"))
    assert zen != intel


def test_jobs_limit_numpy_blas_threads_as_torch_threads():
    """A job's thread count holds for numpy's and scipy's OpenBLAS too (loaded after the limit
    included): they start one thread per core, oversubscribing a machine running several
    workers, and a randomized SVD gave other bits with 1 and 2 OpenBLAS threads."""
    code = ("from bench.runner import limit_threads; limit_threads(1)\n"
            "import sklearn.decomposition, json\n"
            "from threadpoolctl import threadpool_info\n"
            "import torch\n"
            "print(json.dumps([torch.get_num_threads()] + [i['num_threads'] for i in "
            "threadpool_info() if i['internal_api'] == 'openblas']))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "2"})
    assert run.returncode == 0, run.stderr[-2000:]
    threads = json.loads(run.stdout)
    assert len(threads) >= 2 and set(threads) == {1}, threads


def test_cpu_kind_names_the_vendor_and_the_widest_simd_family():
    intel = "vendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx avx2 avx512f avx512bw\n"
    amd = "vendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx avx2\n"
    assert kernels.cpu_kind(intel) == "GenuineIntel avx512"
    assert kernels.cpu_kind(amd) == "AuthenticAMD avx2"
    old = "vendor_id : GenuineIntel\nflags : sse2 avx\n"
    assert kernels.cpu_kind(old) == "GenuineIntel pre-avx2"
    assert kernels.cpu_kind("processor : 0\n") == "unknown"
