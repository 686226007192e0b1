"""The size tiers of the suite, in one table.

`smoke` runs every code path in seconds (tests, CI); `quick` is the default main job, sized
to finish on a 2-core CPU (one ADDES generator costs about 30 s of one core there, and the
suite needs about 30 of them) while keeping the paper's |D_l| = 2k and five seeds for the
tables; Figure 8's grid is 4 x 3 at this tier (the paper's beta = 0.01 and 100 dropped);
`mjcpu` is for the MJSynth suite only (issue 17): the paper's image data sizes (D_l 6k, D_u 24k,
test 10k) with quick's narrow networks (width 1/8), 12 epochs and 3 seeds: Table 4 about
80 min of an idle 2-core machine (`--dry-run --experiments table4 --jobs 2`), the whole
suite about 1.8 h;
rendering its 41k images once about 80 s of one core (1.9 s per 1,000 measured); one SDANN
job took 5-7 min at about a third of a core; its text fields are quick's. How
far SDANN on D_e can get above chance there is bounded by the target estimate of D_e
(`python -m bench.label_estimate`); `sopaper` is the Stack Overflow suite at the paper's
data sizes (D_l 2k, D_u up to 30k: about 24k from the real sample, test 3k) and widths, with
a shortened generator training (20 + 6 + 6 epochs) for a 2-core CPU; `paper` uses the sizes
of Section 5 (meant for a GPU or a cluster). `run_all.py --list` prints this table.
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
    # ---- the MJSynth suite (Section 5.4; paper: |D_l| 6k, |D_u| 24k, test 10k) -------------
    mj_n_labeled: int
    mj_n_unlabeled: int
    mj_n_val: int
    mj_n_test: int
    image_width_mult: float  # filters / FC units of SDANN and image ADDES times this (paper 1)
    image_max_epochs: int  # SDANN and the image CNN baselines
    # their early-stopping patience: their validation loss stays flat for several epochs
    # before it falls (an SDANN on D_e, 2k images), and patience 2 stopped most seeds there
    image_patience: int
    addes_image_latent: int
    addes_image_epochs_classifier: int
    addes_image_epochs_vae: int
    addes_image_epochs_joint: int
    mj_n_synthetic: int  # |D_s| of AugCNN/AugGCN on MJSynth (paper: not stated; 30k in Fig. 8)
    mj_synthetic_sweep: tuple[int, ...]  # Figure 4
    mj_labeled_sweep: tuple[int, ...]  # Figure 6(b)
    mj_sensitivity_grid: tuple[tuple[float, ...], tuple[float, ...]]  # Figure 8 (alphas, betas)
    mj_seeds: int  # Table 4 and Figure 4
    mj_sweep_seeds: int  # Figure 6(b)
    mj_sensitivity_seeds: int  # Figure 8
    # how D_e gets its target letters on MJSynth (issue 17): the job parameter
    # target_estimate that resolve_params gives every image job, so it is in each job's key
    # (left out of identity()). "soft" (the forest's probabilities) is the default because
    # validation selects it at every |D_l| measured; "hard" is the paper's 0/1 estimate.
    # `run_all.py --target-estimate` replaces it.
    mj_target_estimate: str = "soft"

    def as_row(self) -> dict:
        return asdict(self)

    def identity(self, modality: str = "text") -> dict:
        """The fields that determine a job's result for a dataset of `modality`: seed counts
        only decide how many jobs run, so changing `--seeds` never invalidates finished records
        or cached splits; JOB_PARAM_FIELDS reach the key as job params instead. The MJSynth
        fields (IMAGE_FIELDS) are left out for text, so the text suite's keys are those of the
        scale before the image suite existed."""
        row = self.as_row()
        for name in SEED_FIELDS + JOB_PARAM_FIELDS:
            row.pop(name)
        if modality == "text":
            for name in IMAGE_FIELDS:
                row.pop(name, None)
        return row

    def with_seeds(self, n: int) -> Scale:
        """This tier with `n` seeds for tables, and at most `n` for the sweeps."""
        return replace(self, seeds=n, sweep_seeds=min(self.sweep_seeds, n),
                       sensitivity_seeds=min(self.sensitivity_seeds, n), mj_seeds=n,
                       mj_sweep_seeds=min(self.mj_sweep_seeds, n),
                       mj_sensitivity_seeds=min(self.mj_sensitivity_seeds, n))


_QUICK = Scale(
    name="quick",
    n_labeled=2000, n_unlabeled=2000, n_val=300, n_test=3000,
    vocab_size=4000, max_len=16, embed_dim=64, cnn_maps=32, gru_hidden=48,
    batch_size=64, max_epochs=8, patience=2,
    addes_embed=64, addes_hidden=64, addes_latent=16,
    addes_epochs_classifier=2, addes_epochs_vae=2, addes_epochs_joint=3,
    n_synthetic=4000, synthetic_sweep=(0, 1000, 2000, 4000),
    labeled_sweep=(1000, 2000, 4000), seeds=5,
    sweep_seeds=3, sensitivity_seeds=1,
    sensitivity_grid=((0.01, 0.1, 1.0, 10.0), (0.1, 1.0, 10.0)),
    mj_n_labeled=1500, mj_n_unlabeled=1500, mj_n_val=300, mj_n_test=1000,
    image_width_mult=0.125, image_max_epochs=10, image_patience=4,
    addes_image_latent=16, addes_image_epochs_classifier=4, addes_image_epochs_vae=2,
    addes_image_epochs_joint=3, mj_n_synthetic=1500,
    mj_synthetic_sweep=(0, 750, 1500), mj_labeled_sweep=(750, 1500),
    mj_sensitivity_grid=((1.0, 100.0), (0.1, 10.0)),
    mj_seeds=2, mj_sweep_seeds=1, mj_sensitivity_seeds=1,
)

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
            mj_n_labeled=128, mj_n_unlabeled=128, mj_n_val=64, mj_n_test=160,
            image_width_mult=0.0625, image_max_epochs=2, image_patience=2,
            addes_image_latent=8, addes_image_epochs_classifier=1, addes_image_epochs_vae=1,
            addes_image_epochs_joint=1, mj_n_synthetic=128, mj_synthetic_sweep=(0, 128),
            mj_labeled_sweep=(64, 128), mj_sensitivity_grid=((100.0,), (0.1, 1.0)),
            mj_seeds=2, mj_sweep_seeds=1, mj_sensitivity_seeds=1,
        ),
        _QUICK,
        # MJSynth at the paper's data sizes with quick's narrow networks, so that Table 4
        # measures something on a 2-core CPU (issue 17); everything else is quick's
        replace(
            _QUICK, name="mjcpu",
            mj_n_labeled=6000, mj_n_unlabeled=24000, mj_n_val=1000, mj_n_test=10000,
            image_max_epochs=12, mj_n_synthetic=6000,
            mj_synthetic_sweep=(0, 3000, 6000), mj_labeled_sweep=(2000, 6000), mj_seeds=3,
        ),
        # Stack Overflow at the paper's data sizes on the real sample (issue 13): D_l 2k, D_u
        # 30k (the shared sample's tagged and untagged titles give about 24k; the split caps
        # it), test 3k; the paper's vocabulary, title length and widths (classifiers 300 /
        # 100 maps / 150, ADDES 300 / 150 / 64), phase 1 at the paper's 20 epochs and the
        # generator phases at 6 + 6 (the paper: 20 + 40) so that one generator fits about
        # 1.5 h of a 2-core CPU at its max epochs (`--dry-run`: 29 min calibrated); the
        # MJSynth fields are quick's
        replace(
            _QUICK, name="sopaper",
            n_labeled=2000, n_unlabeled=30000, n_val=1000, n_test=3000,
            vocab_size=20000, max_len=30, embed_dim=300, cnn_maps=100, gru_hidden=150,
            max_epochs=15, patience=3,
            addes_embed=300, addes_hidden=150, addes_latent=64,
            addes_epochs_classifier=20, addes_epochs_vae=6, addes_epochs_joint=6,
            n_synthetic=30000, synthetic_sweep=(0, 5000, 10000, 20000, 30000),
            labeled_sweep=(1000, 2000, 4000),
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
            sweep_seeds=5, sensitivity_seeds=5,
            sensitivity_grid=((0.01, 0.1, 1.0, 10.0), (0.01, 0.1, 1.0, 10.0, 100.0)),
            mj_n_labeled=6000, mj_n_unlabeled=24000, mj_n_val=1000, mj_n_test=10000,
            image_width_mult=1.0, image_max_epochs=30, image_patience=5,
            addes_image_latent=64, addes_image_epochs_classifier=20, addes_image_epochs_vae=20,
            addes_image_epochs_joint=40, mj_n_synthetic=30000,
            mj_synthetic_sweep=(0, 1000, 2000, 5000, 10000, 20000, 30000),
            mj_labeled_sweep=(2000, 5000, 10000, 20000),
            mj_sensitivity_grid=((0.01, 0.1, 1.0, 10.0), (0.01, 0.1, 1.0, 10.0, 100.0)),
            mj_seeds=5, mj_sweep_seeds=5, mj_sensitivity_seeds=5,
        ),
    )
}


def get_scale(name: str) -> Scale:
    """The tier called `name`, or a UserError listing the known ones."""
    try:
        return SCALES[name]
    except KeyError:
        raise UserError(
            f"--scale: unknown scale {name!r}; choose one of {', '.join(SCALES)}") from None


def scale_table() -> list[dict]:
    """One row per scale, every field: what `--list` prints."""
    return [s.as_row() for s in SCALES.values()]


SCALE_FIELDS = [f.name for f in fields(Scale)]
SEED_FIELDS = ("seeds", "sweep_seeds", "sensitivity_seeds", "mj_seeds", "mj_sweep_seeds",
               "mj_sensitivity_seeds")
# fields that resolve_params turns into job params (in the key there, not in identity())
JOB_PARAM_FIELDS = ("mj_target_estimate",)
# the MJSynth suite's fields: everything declared after sensitivity_grid
IMAGE_FIELDS = tuple(SCALE_FIELDS[SCALE_FIELDS.index("sensitivity_grid") + 1 :])
