"""Print one hash per kernel family the suite's models run through (a JSON object).

Run by `tests/test_kernels.py` in subprocesses (natively and under an emulated CPU) with the
pinned kernels of `bench.kernels`: equal hashes mean those CPUs compute the same bits.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import scipy.sparse
import torch
import torch.nn.functional as F
from sklearn.decomposition import TruncatedSVD
from threadpoolctl import threadpool_info


def _digest(*tensors: torch.Tensor) -> str:
    h = hashlib.sha1()
    for t in tensors:
        h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def fingerprint() -> dict[str, str]:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    a, b = torch.randn(257, 301), torch.randn(301, 123)
    adjacency, nodes, weight = torch.rand(25, 25), torch.randn(25, 300), torch.randn(300, 64)
    out = {"gemm": _digest(a @ b),
           "small gemm (GCN layer)": _digest(adjacency @ (nodes @ weight)),
           "gemv": _digest(a @ b[:, 0]),
           "exp/log/tanh/sigmoid": _digest(a.exp(), a.abs().log1p(), a.tanh(), a.sigmoid()),
           "softmax": _digest(F.log_softmax(a, dim=1))}
    x = torch.randn(8, 16, 50, requires_grad=True)
    w = torch.randn(32, 16, 3, requires_grad=True)
    y = F.conv1d(x, w)
    y.square().sum().backward()
    out["conv1d fwd/bwd"] = _digest(y, x.grad, w.grad)
    img = torch.randn(4, 1, 32, 100, requires_grad=True)
    kernel = torch.randn(8, 1, 3, 3, requires_grad=True)
    z = F.conv2d(img, kernel, padding=1)
    z.square().sum().backward()
    out["conv2d fwd/bwd"] = _digest(z, img.grad, kernel.grad)
    gru = torch.nn.GRU(16, 24, batch_first=True)
    seq, _ = gru(torch.randn(4, 12, 16))
    seq.sum().backward()
    out["GRU fwd/bwd"] = _digest(seq, *(p.grad for p in gru.parameters()))
    linear = torch.nn.Linear(301, 25)
    opt = torch.optim.Adam(linear.parameters(), lr=1e-3)
    for _ in range(3):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(linear(a), (b[:257, :25] > 0).float()).backward()
        opt.step()
    out["linear + BCE + Adam"] = _digest(*linear.parameters())
    out.update(_numpy_fingerprint())
    return out


def _numpy_fingerprint() -> dict[str, str]:
    """numpy's / scipy's OpenBLAS, which dispatches on its own (Zero-shot's class embeddings)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((257, 301)), rng.standard_normal((301, 123))
    counts = scipy.sparse.random(400, 300, density=0.05, random_state=0, format="csr")
    svd = TruncatedSVD(20, algorithm="randomized", n_iter=7, random_state=0).fit(counts)
    f = a.astype(np.float32)
    return {"numpy gemm": _digest(torch.from_numpy(a @ b)),
            "randomized SVD": _digest(torch.from_numpy(svd.components_)),
            "numpy exp/log/tanh": _digest(*(torch.from_numpy(np.ascontiguousarray(v)) for v in
                                            (np.exp(a), np.log(np.abs(a)), np.exp(f),
                                             np.log(np.abs(f)), np.tanh(f))))}


def numpy_simd_targets() -> list[str]:
    """The SIMD targets numpy's ufunc loops may dispatch to on this CPU, as enabled."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]


def openblas_kernels() -> list[str]:
    """The kernel family each loaded OpenBLAS runs (numpy's, scipy's)."""
    return sorted({str(info.get("architecture")) for info in threadpool_info()
                   if info.get("internal_api") == "openblas"})


if __name__ == "__main__":
    print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(),
                      "openblas": openblas_kernels(), "numpy simd": numpy_simd_targets(),
                      **fingerprint()}))
