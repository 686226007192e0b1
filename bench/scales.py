"""The size tiers of the suite, in one table.

`smoke` runs every code path in seconds (tests, CI); `quick` is the default main job, sized
to finish on a 2-core CPU while keeping the paper's comparisons meaningful; `paper` uses the
sizes of Section 5 (meant for a GPU or a cluster). `run_all.py --list` prints this table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from bench.errors import UserError


@dataclass(frozen=True)
class Scale:
    """Data sizes, model widths and training budgets of one tier."""

    name: str
    # data (paper Section 5.1: |D_l| = 2k, |D_u| = 30k, test 30k)
    n_labeled: int
    n_unlabeled: int
    n_val: int
    n_test: int
    vocab_size: int
    max_len: int
    # classifiers (Kim 2014: embedding 300, filters 3/4/5 x 100 maps)
    embed_dim: int
    cnn_maps: int
    gru_hidden: int
    batch_size: int
    max_epochs: int
    patience: int
    # ADDES generator (Section 5.3.2: bi-GRU hidden 150)
    addes_embed: int
    addes_hidden: int
    addes_latent: int
    addes_epochs_classifier: int
    addes_epochs_vae: int
    addes_epochs_joint: int
    # experiments
    n_synthetic: int          # |D_s| of AugCNN/AugGCN (paper: 30k on SO-1)
    synthetic_sweep: tuple[int, ...]   # Figure 3
    labeled_sweep: tuple[int, ...]     # Figure 6
    seeds: int  # Tables 2-4 and Figure 3 (the paper: 5)
    sweep_seeds: int  # Figures 6 and 7, whose points each need their own generators
    sensitivity_seeds: int  # Figure 8 (20 alpha x beta generators per seed)
    sensitivity_grid: tuple[tuple[float, ...], tuple[float, ...]]  # (alphas, betas)

    def as_row(self) -> dict:
        return asdict(self)

    def identity(self) -> dict:
        """The fields that determine a job's result: seed counts only decide how many jobs
        run, so changing `--seeds` never invalidates finished records or cached splits."""
        row = self.as_row()
        for name in ("seeds", "sweep_seeds", "sensitivity_seeds"):
            del row[name]
        return row

    def with_seeds(self, n: int) -> Scale:
        """This tier with `n` seeds for tables, and at most `n` for the sweeps."""
        return replace(self, seeds=n, sweep_seeds=min(self.sweep_seeds, n),
                       sensitivity_seeds=min(self.sensitivity_seeds, n))


SCALES: dict[str, Scale] = {
    s.name: s
    for s in (
        Scale(
            name="smoke", n_labeled=200, n_unlabeled=300, n_val=100, n_test=400,
            vocab_size=1500, max_len=16, embed_dim=32, cnn_maps=16, gru_hidden=24,
            batch_size=64, max_epochs=3, patience=2,
            addes_embed=32, addes_hidden=32, addes_latent=8,
            addes_epochs_classifier=1, addes_epochs_vae=1, addes_epochs_joint=1,
            n_synthetic=200, synthetic_sweep=(0, 200), labeled_sweep=(100, 200), seeds=2,
            sweep_seeds=2, sensitivity_seeds=1, sensitivity_grid=((0.1, 1.0), (0.1, 1.0)),
        ),
        Scale(
            name="quick", n_labeled=2000, n_unlabeled=8000, n_val=500, n_test=5000,
            vocab_size=8000, max_len=20, embed_dim=128, cnn_maps=64, gru_hidden=96,
            batch_size=64, max_epochs=12, patience=3,
            addes_embed=128, addes_hidden=128, addes_latent=32,
            addes_epochs_classifier=6, addes_epochs_vae=4, addes_epochs_joint=6,
            n_synthetic=8000, synthetic_sweep=(0, 1000, 2000, 4000, 8000),
            labeled_sweep=(1000, 2000, 4000), seeds=5,
            sweep_seeds=3, sensitivity_seeds=1, sensitivity_grid=((0.01, 0.1, 1.0, 10.0), (0.01, 0.1, 1.0, 10.0, 100.0)),
        ),
        Scale(
            name="paper", n_labeled=2000, n_unlabeled=30000, n_val=1000, n_test=30000,
            vocab_size=20000, max_len=30, embed_dim=300, cnn_maps=100, gru_hidden=150,
            batch_size=64, max_epochs=30, patience=5,
            addes_embed=300, addes_hidden=150, addes_latent=64,
            addes_epochs_classifier=20, addes_epochs_vae=20, addes_epochs_joint=40,
            n_synthetic=30000,
            synthetic_sweep=(0, 1000, 2000, 5000, 10000, 20000, 30000),
            labeled_sweep=(2000, 5000, 10000, 20000), seeds=5,
            sweep_seeds=5, sensitivity_seeds=5, sensitivity_grid=((0.01, 0.1, 1.0, 10.0), (0.01, 0.1, 1.0, 10.0, 100.0)),
        ),
    )
}


def get_scale(name: str) -> Scale:
    """The tier called `name`, or a UserError listing the known ones."""
    try:
        return SCALES[name]
    except KeyError:
        raise UserError(f"--scale: unknown scale {name!r}; choose one of {', '.join(SCALES)}") from None


def scale_table() -> list[dict]:
    """One row per scale, every field: what `--list` prints."""
    return [s.as_row() for s in SCALES.values()]


SCALE_FIELDS = [f.name for f in fields(Scale)]
