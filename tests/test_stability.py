"""bench.stability: the perturbation of initial weights and its report (issue 14)."""

from __future__ import annotations

import torch

from bench import stability


def test_perturbation_moves_every_parameter_by_about_eps_when_an_optimiser_takes_it():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(50, 40), torch.nn.Linear(40, 3))
    start = [p.detach().clone() for p in net.parameters()]
    with stability.perturbed_initial_weights(1e-6, seed=0):
        torch.optim.Adam([{"params": net[0].parameters()}, {"params": net[1].parameters(),
                                                            "lr": 1e-2}])
    moved = [(p.detach() - s).abs() for p, s in zip(net.parameters(), start, strict=True)]
    assert all(0 < m.max() < 1e-5 for m in moved)
    assert 5e-7 < torch.cat([m.flatten() for m in moved]).mean() < 1.2e-6  # E|N(0,1)| = 0.80
    after = [p.detach().clone() for p in net.parameters()]
    torch.optim.SGD(net.parameters(), lr=0.1)  # outside: the optimiser is the plain one again
    assert all(torch.equal(a, p) for a, p in zip(after, net.parameters(), strict=True))


def test_summary_reports_the_largest_difference_against_the_criterion():
    def run(val, test):
        return {"val": {"mAP": val}, "test": {"mAP": test}}

    text = stability.summary_markdown({0: (run(0.40, 0.45), run(0.41, 0.46)),
                                       1: (run(0.30, 0.35), run(0.30, 0.38))})
    assert "| 1 | 0.300 | 0.300 | 0.350 | 0.380 | 0.0300 |" in text
    assert "max 0.0300, mean 0.0200; **misses**" in text
    assert "**meets**" in stability.summary_markdown({0: (run(0.4, 0.45), run(0.4, 0.451))})


def test_cli_at_smoke_scale_writes_a_summary_and_reuses_its_runs(tmp_path, capsys):
    args = ["--method", "Zero-shot", "--scale", "smoke", "--seeds", "0", "--out", str(tmp_path)]
    assert stability.main(args) == 0
    first = capsys.readouterr().out
    assert "| 0 |" in first and "the criterion" in first
    # named by every job param, the defaults too: runs of another default are never reused
    folder = tmp_path / "stability" / "stackoverflow-1-smoke-Zero-shot-gcn_restarts5-nodesone-hot"
    assert sorted(p.name for p in folder.glob("*.json")) == ["seed0-eps0.json",
                                                            "seed0-eps1e-06.json"]
    assert stability.main(args) == 0  # from the saved runs
    assert capsys.readouterr().out == first
    assert stability.main(["--method", "nope", "--out", str(tmp_path)]) == 2
    assert stability.main(["--eps", "0", "--out", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err


def test_bad_seeds_exit_2(tmp_path):
    assert stability.main(["--seeds=a", "--out", str(tmp_path)]) == 2
