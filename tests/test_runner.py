"""The job runner: records keyed by config hash, resume without retraining, failures recorded."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bench.methods import REGISTRY
from bench.runner import Job, RunContext, job_key, run_jobs
from bench.scales import get_scale

SCALE = get_scale("smoke")


@pytest.fixture()
def ctx(tmp_path, cache_dir):
    return RunContext("stackoverflow", SCALE, tmp_path / "run", cache_dir)


def test_key_depends_on_config_not_on_seed_count(ctx):
    job = Job("stackoverflow-1", "text-CNN", 0)
    other = RunContext("stackoverflow", SCALE.with_seeds(5), ctx.run_dir, ctx.cache_dir)
    assert job_key(job, ctx) == job_key(job, other)
    assert job_key(job, ctx) != job_key(Job("stackoverflow-1", "text-CNN", 1), ctx)


def test_a_revised_recipe_gets_new_keys_and_revision_1_changes_none(ctx, monkeypatch):
    """Records of a method's old recipe are never reused for its revised one."""
    job = Job("stackoverflow-1", "text-CNN", 0)
    first = job_key(job, ctx)
    monkeypatch.setitem(REGISTRY, "text-CNN", replace(REGISTRY["text-CNN"], revision=1))
    assert job_key(job, ctx) == first
    monkeypatch.setitem(REGISTRY, "text-CNN", replace(REGISTRY["text-CNN"], revision=2))
    assert job_key(job, ctx) != first
    assert REGISTRY["Zero-shot"].revision == 2  # its transfer GCN was revised (issue 14)


def test_rerun_trains_nothing_and_returns_same_records(ctx, monkeypatch):
    jobs = [Job("stackoverflow-1", "text-CNN", s) for s in (0, 1)]
    first = run_jobs(jobs, ctx)
    assert len(list(ctx.records_dir.glob("*.json"))) == 2
    import bench.runner as runner

    monkeypatch.setattr(runner, "run_job", lambda *a, **k: pytest.fail("retrained"))
    assert run_jobs(jobs, ctx) == first


def test_torn_record_is_redone(ctx):
    job = Job("stackoverflow-1", "text-CNN", 0)
    run_jobs([job], ctx)
    path = ctx.records_dir / f"{job_key(job, ctx)}.json"
    path.write_text('{"status": "ok", "metr')
    record = run_jobs([job], ctx)[job]
    assert record["status"] == "ok" and json.loads(path.read_text())["status"] == "ok"


def test_diverging_job_is_recorded_as_failed_and_run_goes_on(ctx, monkeypatch):
    from baselines import training

    real = training.fit_multilabel

    def explode(model, x, y, **kw):
        if kw["seed"] == 0:
            raise FloatingPointError("training loss became nan")
        return real(model, x, y, **kw)

    monkeypatch.setattr(training, "fit_multilabel", explode)
    jobs = [Job("stackoverflow-1", "text-CNN", s) for s in (0, 1)]
    records = run_jobs(jobs, ctx)
    assert records[jobs[0]]["status"] == "failed"
    assert "nan" in records[jobs[0]]["error"]
    assert records[jobs[1]]["status"] == "ok"


def test_record_carries_what_interprets_a_difference(ctx):
    job = Job("stackoverflow-1", "text-CNN", 0)
    record = run_jobs([job], ctx)[job]
    assert ({"git_commit", "git_dirty", "torch", "numpy", "device", "threads", "dtype"}
            <= set(record["env"]))
    assert set(record["metrics"]) == {"mAP", "AUC"} and record["sizes"]["n_labeled"] == 200


def test_key_changes_with_the_data_the_relations_and_the_word_list(ctx, tmp_path):
    """Guards "a changed config gets a new key" for the inputs outside the job itself: the
    data folder's contents (a text job), the relations file's contents (a text job; a copy
    elsewhere with the same bytes keeps the key) and the word list (an MJSynth job). A key
    that dropped any of them would reuse records computed on other data."""
    from bench.data.splits import DEFAULT_RELATIONS

    text, image = Job("stackoverflow-1", "text-CNN", 0), Job("mjsynth-1", "SDANN", 0)

    def with_(**inputs):  # the same run with other inputs (replace recomputes source_id)
        return replace(ctx, **inputs)

    data = tmp_path / "data"
    data.mkdir()
    (data / "labeled.tsv").write_text("title\ttags\nx y\t['javascript']\n")
    assert job_key(text, with_(data_dir=data)) != job_key(text, ctx)
    other = tmp_path / "relations.json"
    other.write_bytes(DEFAULT_RELATIONS.read_bytes())
    assert job_key(text, with_(relations=other)) == job_key(text, ctx)  # content, not path
    other.write_text(other.read_text().replace("javascript", "typescript", 1))
    assert job_key(text, with_(relations=other)) != job_key(text, ctx)
    words = tmp_path / "words.txt"
    words.write_text("tea\ncat\n")
    assert job_key(image, with_(word_list=words)) != job_key(image, ctx)


def _bumped(value):
    """Another value of the same kind (a scale field changed by a user or a commit)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value * 2 + 1
    if isinstance(value, str):
        return value + "-changed"
    return (*value, *value[:1]) if value else (1,)


@pytest.mark.parametrize(("dataset", "method"), [("stackoverflow-1", "text-CNN"),
                                                 ("mjsynth-1", "SDANN")])
def test_key_changes_with_every_field_of_the_scale_identity(ctx, dataset, method):
    """Guards "a changed config gets a new key" for the scale: every field of the scale's
    identity for the job's modality (sizes, widths, epochs, patience, ...) is in the key, so
    records trained under another definition of a tier are never reused. A key built from an
    identity that lost a field (e.g. max_epochs) stayed green before."""
    from bench.data.splits import modality_of
    from bench.scales import IMAGE_FIELDS, JOB_PARAM_FIELDS, SEED_FIELDS

    job = Job(dataset, method, 0)
    base = job_key(job, ctx)
    image = modality_of(dataset) == "image"  # the text fields are checked with the text job
    # the declared fields, not identity()'s: a field that identity() lost must show up here
    fields = {name: value for name, value in SCALE.as_row().items()
              if name not in SEED_FIELDS + JOB_PARAM_FIELDS and (name in IMAGE_FIELDS) == image}
    assert len(fields) > 10
    same = [name for name, value in fields.items()
            if job_key(job, replace(ctx, scale=replace(SCALE, **{name: _bumped(value)}))) == base]
    assert not same, f"the key ignores scale field(s) {same}"
