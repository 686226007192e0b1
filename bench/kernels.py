"""Pinned CPU kernel families for runs that are compared bit for bit.

torch, oneDNN and MKL pick their SIMD kernels from the CPU they run on (AVX-512 where present,
else AVX2, ...), and kernels of different widths sum in different orders, so the same job
gives different last bits on different machine kinds; a chaotic model (a seed near a
decision boundary) turns those bits into visibly different metrics. A smoke run on an AVX2
machine differed from a reference made on an AVX-512 one in 10 of 144 values.

Runs meant to be compared exactly (`--check ... --exact`, `--save-reference`) therefore pin
every x86 kind to the same kernel families before torch or numpy chooses any (`PINNED`):
ATen's vectorised kernels and oneDNN's JIT kernels at AVX2, which every x86-64 machine the
suite runs on has; MKL at its COMPATIBLE branch; numpy's OpenBLAS at its Haswell kernels and
numpy's own SIMD loops below AVX-512; and one thread per job (reductions split by thread count
sum in another order).

MKL is vendor-dependent: its AVX2 branch is Intel's only, and on an AMD CPU `MKL_CBWR=AVX2`
runs MKL's Zen GEMM kernels instead. Under `qemu-x86_64 -cpu EPYC-Rome` a GEMM gives Intel's
bits with COMPATIBLE and Zen's with AVX2 (`tests/test_kernels.py`, the slow emulated-CPU test).
numpy dispatches on its own, twice: its OpenBLAS (SkylakeX kernels on AVX-512 Xeons, Haswell
ones on AMD Zen; a randomized SVD and a float64 GEMM give other bits under another family) and
its ufunc loops (AVX-512 versions of exp, log, tanh, ...; float32 exp/log/tanh give other
bits with AVX2 than without). Both are pinned to what every x86-64 kind with AVX2 runs.

Not every CPU kind computes alike even so: a smoke reference made on an AVX-512 Intel Xeon
under the MKL/ATen/oneDNN pin differed on an AMD EPYC (AVX2) in 8 values, all Zero-shot's,
every other method's 152 bit-identical. On the EPYC, neither OpenBLAS's kernel family nor
numpy's SIMD level moves those 8 values, and emulated Intel and AMD CPUs without AVX-512
(qemu) compute them alike, so the difference comes from something only the real hardware
shows (AVX-512 or the vendor); it is not found. Records therefore name their CPU kind
(`cpu_kind`: vendor and widest SIMD family), and the exact gate compares a run only with a
reference of the same kind.

Each record stores the kernels it actually ran with (`record_settings`), and the exact gate
refuses, rather than fails, a comparison of records made under other kernels or on another
CPU kind than the reference's.

This module must not import torch at import time: `pin` has to run before torch picks its
kernels (run_all.py calls it first; worker processes inherit the environment).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

#: environment variable -> value; read by torch / oneDNN / MKL / OpenBLAS / numpy when they
#: first dispatch.
PINNED: Mapping[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",    # ATen's vectorised CPU kernels (torch)
    "ONEDNN_MAX_CPU_ISA": "AVX2",     # oneDNN (convolutions, some matmuls)
    # MKL's code branch (GEMM, vector maths). COMPATIBLE (SSE2 without approximate reciprocals)
    # is the one branch MKL runs alike on Intel and AMD CPUs: its AVX2 branch exists on Intel
    # only, and an AMD CPU asked for it runs its own Zen kernels instead.
    "MKL_CBWR": "COMPATIBLE,STRICT",
    # numpy's and scipy's OpenBLAS (TruncatedSVD of Zero-shot's semantic nodes, scikit-learn's
    # solvers): a DYNAMIC_ARCH build runs SkylakeX kernels on AVX-512 Intel CPUs and Haswell
    # kernels on AVX2 Intel and on AMD Zen, so name the one every x86-64 kind can run.
    "OPENBLAS_CORETYPE": "Haswell",
    # numpy's own SIMD loops (exp, log, tanh, ... of float32 / float64 arrays) dispatch up to
    # AVX-512 where present; these are its AVX-512 targets, by the names of numpy >= 2.3 and of
    # earlier releases (a name a release does not know is ignored with an ImportWarning).
    "NPY_DISABLE_CPU_FEATURES": ("X86_V4 AVX512_ICL AVX512_SPR AVX512F AVX512CD AVX512_KNL "
                                 "AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL"),
}
#: the options that ask for a bit-for-bit comparison (or make what one is compared with)
COMPARED_OPTIONS = ("--exact", "--save-reference")


def wants_pinned(argv: Sequence[str]) -> bool:
    """True for a command line that makes or checks an exact reference."""
    return any(a == opt or a.startswith(opt + "=") for a in argv for opt in COMPARED_OPTIONS)


def pin(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set the pinned kernel families in `environ` (this process and the workers it starts)."""
    environ.update(PINNED)


def pin_if_compared(argv: Sequence[str]) -> bool:
    """`pin` when the command line asks for an exact comparison; returns whether it did."""
    if wants_pinned(argv):
        pin()
        return True
    return False


@contextmanager
def pinned_if_compared(argv: Sequence[str]) -> Iterator[bool]:
    """`pin_if_compared` for the duration of a block, then the environment as it was (for
    callers of `bench.cli.main` in a longer-lived process, e.g. the tests)."""
    saved = {name: os.environ.get(name) for name in PINNED}
    try:
        yield pin_if_compared(argv)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cpu_kind(cpuinfo: str | None = None) -> str:
    """The CPU's vendor and widest SIMD family, e.g. "AuthenticAMD avx2" or "GenuineIntel
    avx512" (from /proc/cpuinfo; "unknown" where there is none): the pins make runs
    bit-identical within a kind, but not across these two (see the module docstring)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                cpuinfo = f.read(1 << 16)
        except OSError:
            return "unknown"
    fields = dict(line.split(":", 1) for line in cpuinfo.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    vendor, flags = fields.get("vendor_id", "unknown"), set(fields.get("flags", "").split())
    simd = "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else "pre-avx2"
    return f"{vendor} {simd}" if flags else vendor


def record_settings() -> dict[str, Any]:
    """What a record stores: the CPU kind, the ATen capability torch runs with in this
    process, and the pinned variables as set (None when unset)."""
    import torch

    return {"cpu_kind": cpu_kind(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "kernels": {name: os.environ.get(name) for name in PINNED}}


def is_pinned(settings: Mapping[str, Any]) -> bool:
    return dict(settings.get("kernels") or {}) == dict(PINNED)


def describe(capabilities: Sequence[str], settings: Sequence[Mapping[str, Any]]) -> str:
    """One line for a report: the CPU kernels the records ran with."""
    caps = ", ".join(sorted({str(c) for c in capabilities})) or "not recorded"
    if not settings:
        return f"CPU kernels: ATen capability {caps}; pinning not recorded"
    if all(dict(s or {}) == dict(PINNED) for s in settings):
        pins = ", ".join(f"{k}={v}" for k, v in PINNED.items())
        return f"CPU kernels: ATen capability {caps}; pinned for exact comparison ({pins})"
    return f"CPU kernels: ATen capability {caps}; not pinned (each library's own choice)"
