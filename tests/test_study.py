"""Studies (aim/study/): variants × seeds, the paper's mean ± std and t-test against the best baseline on fixed
numbers, a real tiny study interrupted and resumed, table exports, and refusals of damaged study folders."""

from __future__ import annotations

import io
import json
import math
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import aim.pipeline
import aim.stages
import aim.study.tokens
from aim import study as st
from aim.config import RunConfig
from aim.errors import ConfigError, RunFormatError
from aim.fileio import read_json, write_json
from aim.runs import RUN_FILE, load_run


def meta(auc: float, logloss: float, *, status: str = "complete", params: tuple[int, int] = (1000, 1000),
         timings: dict | None = None, fi: dict[int, float] | None = None) -> dict:
    """A hand-made run.json with what the summary reads."""
    m = {"status": status, "metrics": {"test": {"auc": auc, "logloss": logloss}},
         "params": {"before_eds": params[0], "after_eds": params[1]},
         "interactions": {f"order{k}": {"kept": 1, "total": 2, "fi_ratio": v} for k, v in (fi or {2: 1.0}).items()}}
    if timings is not None:
        m["timings"] = timings
    return m


def metas(aucs: list[float], loglosses: list[float] | None = None, **kw) -> list[dict]:
    loglosses = loglosses or [0.5 - (a - 0.8) for a in aucs]
    return [meta(a, ll, **kw) for a, ll in zip(aucs, loglosses)]


FIXED = {
    "fm": metas([0.80, 0.81, 0.82]),
    "deepfm": metas([0.83, 0.84, 0.85]),  # the best baseline
    "ipnn": metas([0.825, 0.835, 0.845]),
    "aim-eds": metas([0.84, 0.85, 0.86]),  # p = 0.29 vs deepfm: not significant
    "aim": metas([0.950, 0.951, 0.952], params=(1000, 400), fi={2: 0.25, 3: 0.1},
                 timings={"train_epoch_seconds": 2.0, "infer_seconds_per_100k": 0.5}),
}


def row(df: pd.DataFrame, variant: str) -> pd.Series:
    return df.set_index("variant").loc[variant]


# ------------------------------------------------------------------------------------------ fixed numbers

def test_mean_sample_std_and_pvalue_on_fixed_numbers():
    df = st.summarise(FIXED)
    assert list(df["variant"]) == list(FIXED) and list(df.columns[: len(st.SUMMARY_COLUMNS)]) == st.SUMMARY_COLUMNS
    r = row(df, "aim-eds")
    assert r["n"] == 3 and r["auc_mean"] == pytest.approx(0.85) and r["auc_std"] == pytest.approx(0.01)  # ddof=1
    assert r["logloss_mean"] == pytest.approx(0.45) and r["logloss_std"] == pytest.approx(0.01)
    # Student's t-test, equal variances: t = 0.01 / (0.01 * sqrt(2/3)), df = 4
    expected = stats.ttest_ind([0.84, 0.85, 0.86], [0.83, 0.84, 0.85], equal_var=True).pvalue
    assert r["p_auc"] == pytest.approx(expected, rel=1e-12)
    t = 0.01 / (0.01 * math.sqrt(2 / 3))
    x = t / math.sqrt(t * t + 4)  # Student t with 4 degrees of freedom: P(|T| < t) = x (3 - x²) / 2
    assert r["p_auc"] == pytest.approx(1 - x * (3 - x * x) / 2, rel=1e-9)
    assert r["p_auc"] == pytest.approx(0.2879, abs=1e-4)
    assert r["p_logloss"] == pytest.approx(expected, rel=1e-9)  # mirror-image numbers, same p
    assert st.ttest_pvalue([0.86, 0.87, 0.88], [0.83, 0.84, 0.85]) == pytest.approx(0.0213116, abs=1e-6)


def test_best_baseline_and_significance():
    df = st.summarise(FIXED)
    assert st.best_baseline(df) == "deepfm"
    assert math.isnan(row(df, "deepfm")["p_auc"]) and not row(df, "deepfm")["significant"]
    assert row(df, "fm")["p_auc"] == pytest.approx(stats.ttest_ind([0.80, 0.81, 0.82], [0.83, 0.84, 0.85]).pvalue)
    assert row(df, "aim")["p_auc"] < st.SIGNIFICANCE and bool(row(df, "aim")["significant"])
    assert row(df, "fm")["p_auc"] > st.SIGNIFICANCE and not row(df, "fm")["significant"]
    assert not row(df, "aim-eds")["significant"]
    # without deepfm, ipnn is the best baseline and the p-values are against it
    df2 = st.summarise({k: v for k, v in FIXED.items() if k != "deepfm"})
    assert st.best_baseline(df2) == "ipnn"
    assert row(df2, "fm")["p_auc"] == pytest.approx(stats.ttest_ind([0.80, 0.81, 0.82], [0.825, 0.835, 0.845]).pvalue)


def test_no_baseline_single_seed_and_incomplete_runs():
    df = st.summarise({"aim": metas([0.9, 0.91]), "aim-eds": metas([0.8])})
    assert st.best_baseline(df) is None and df["p_auc"].isna().all() and not df["significant"].any()
    assert math.isnan(row(df, "aim-eds")["auc_std"])  # one seed: no sample std
    runs = [meta(0.8, 0.5), meta(0.9, 0.4, status="failed"), meta(0.7, 0.6, status="running"), meta(0.82, 0.48)]
    df = st.summarise({"fm": runs, "deepfm": []})
    assert row(df, "fm")["n"] == 2 and row(df, "fm")["auc_mean"] == pytest.approx(0.81)
    assert row(df, "deepfm")["n"] == 0 and math.isnan(row(df, "deepfm")["auc_mean"])
    assert st.best_baseline(df) == "fm"


def test_fi_ratio_params_and_timings():
    df = st.summarise(FIXED)
    assert [c for c in df.columns if c.startswith("fi_ratio")] == ["fi_ratio_order2", "fi_ratio_order3"]
    assert row(df, "aim")["fi_ratio_order2"] == pytest.approx(0.25)
    assert row(df, "aim")["fi_ratio_order3"] == pytest.approx(0.1)
    assert math.isnan(row(df, "fm")["fi_ratio_order3"]) and row(df, "fm")["fi_ratio_order2"] == 1.0
    assert row(df, "aim")["params_before_eds"] == 1000 and row(df, "aim")["params_after_eds"] == 400
    assert row(df, "aim")["train_epoch_seconds"] == 2.0 and row(df, "aim")["infer_seconds_per_100k"] == 0.5
    assert math.isnan(row(df, "fm")["train_epoch_seconds"]) and math.isnan(row(df, "fm")["infer_seconds_per_100k"])
    partial = [meta(0.8, 0.5, timings={"train_epoch_seconds": 3.0}), meta(0.8, 0.5, timings={"train_epoch_seconds": 5.0})]
    r = row(st.summarise({"fm": partial}), "fm")
    assert r["train_epoch_seconds"] == 4.0 and math.isnan(r["infer_seconds_per_100k"])


# ------------------------------------------------------------------------------------------ variant tokens

def test_parse_variants_and_seeds():
    assert st.parse_variants(" fm,deepfm ,aim-eds-se,fm") == ["fm", "deepfm", "aim-eds-se"]
    assert st.parse_variants(["aim", "aim-se"]) == ["aim", "aim-se"]
    for bad in ("fm,nope", "fm-se", ""):
        with pytest.raises(ConfigError) as err:
            st.parse_variants(bad)
        assert "aim-ifs-eds-se" in str(err.value) and "deepfm" in str(err.value)
    assert st.parse_seeds("3") == [0, 1, 2] and st.parse_seeds(2) == [0, 1]
    assert st.parse_seeds("1,3,7") == [1, 3, 7] and st.parse_seeds("7,") == [7]
    for bad in ("0", "x", "1,-2"):
        with pytest.raises(ConfigError):
            st.parse_seeds(bad)


def test_variant_config(tmp_path):
    base = RunConfig()
    se = st.variant_config(base, "aim-eds-se", 3)
    assert (se.variant, se.seed, se.model.embedding) == ("aim-eds", 3, "se")
    assert se.replace(variant="aim", seed=0, model=base.model) == base  # nothing else changes
    assert st.variant_config(base, "aim", 1).model.embedding == "fwe"
    assert st.token_of(se) == "aim-eds-se" and st.token_of(se.to_json()) == "aim-eds-se"
    assert st.token_of(st.variant_config(base, "fm", 0)) == "fm"
    with pytest.raises(ConfigError, match="unknown variant"):
        st.variant_config(base, "nope", 0)
    if st.transfer_supported():
        with pytest.raises(ConfigError, match="transfer"):
            st.variant_config(base, "deepfm-transfer", 0)
        assert st.variant_config(base, "ipnn-transfer", 0, str(tmp_path)).transfer_from == str(tmp_path)
        assert st.variant_config(base, "fm", 0, str(tmp_path)).transfer_from == ""


def test_transfer_rows(monkeypatch):
    logs: list[str] = []
    assert st.add_transfer_rows(["fm"], None, logs.append) == ["fm"] and not logs
    monkeypatch.setattr(aim.study.tokens, "VARIANTS", ("fm", "deepfm", "ipnn", "aim-ifs-eds", "aim-eds", "aim"))
    assert st.add_transfer_rows(["fm", "aim"], "some/run", logs.append) == ["fm", "aim"]
    assert "skipped" in logs[-1] and "deepfm-transfer" in logs[-1]
    monkeypatch.setattr(aim.study.tokens, "VARIANTS", (*st.VARIANTS, *st.TRANSFER_VARIANTS))
    assert st.add_transfer_rows(["fm", "aim"], "some/run", logs.append) == ["fm", "aim", *st.TRANSFER_VARIANTS]


def test_study_refuses_bad_values_before_any_work(tmp_path, tiny_config):
    out = tmp_path / "out"
    base = tiny_config("fm")
    for args, match in [(("fm,nope", [0]), "unknown variant"), (("fm", []), "no seeds"),
                        (("deepfm-transfer", [0]), "transfer")]:
        with pytest.raises(ConfigError, match=match):
            st.run_study(base, *args, out, log=lambda _: None)
    with pytest.raises(ConfigError, match="-se"):
        st.run_study(base.replace(model=base.model.__class__(embedding="se")), "aim", [0], out)
    with pytest.raises(ConfigError, match="jobs"):
        st.run_study(base, "fm", [0], out, jobs=0, log=lambda _: None)
    assert not out.exists()


# ------------------------------------------------------------------------------------ a real, resumed study

def _set_status(run: os.PathLike, status: str) -> None:
    m = read_json(run / RUN_FILE)
    m["status"] = status
    write_json(run / RUN_FILE, m)


def test_resuming_a_study_continues_an_interrupted_run_from_its_checkpoints(tmp_path, tiny_config, monkeypatch):
    """An AIM run that failed in its embed stage (the search checkpointed) is continued in its own folder when
    the study resumes, not started over; the result equals an uninterrupted run of the same seed."""
    base = tiny_config("aim")
    reference = st.load_study(st.run_study(base, "aim", [0], tmp_path / "ref", jobs=1, log=lambda _: None))
    monkeypatch.setattr(aim.stages, "search_embed", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    path = st.run_study(base, "aim", [0], tmp_path / "cut", jobs=1, log=lambda _: None)
    monkeypatch.undo()
    study = st.load_study(path)
    interrupted = study.runs["aim"][0]
    assert study.status == "failed" and load_run(interrupted).status == "failed"
    executed: list[int] = []
    real_execute = aim.pipeline.execute
    monkeypatch.setattr(aim.pipeline, "execute", lambda cfg, *a, **k: executed.append(cfg.seed) or real_execute(cfg, *a, **k))
    logs: list[str] = []
    st.resume_study(path, jobs=1, log=logs.append)
    study = st.load_study(path)
    assert study.status == "complete" and executed == [], executed
    assert study.runs["aim"][0] == interrupted and [p.name for p in (path / st.RUNS_DIR).iterdir()] == [interrupted.name]
    run = load_run(interrupted)
    assert run.status == "complete" and run.meta["resumed"][0]["checkpoints"] == ["search"]
    assert any("continuing the interrupted" in line for line in logs)
    assert run.meta["metrics"] == load_run(reference.runs["aim"][0]).meta["metrics"]


def test_study_runs_resumes_and_fails(tmp_path, tiny_config, monkeypatch):
    logs: list[str] = []
    base = tiny_config("fm")
    path = st.run_study(base, "fm,deepfm", [0, 1], tmp_path, jobs=1, log=logs.append)
    assert path.parent == tmp_path and path.name.startswith("study__synthetic__")
    study = st.load_study(path)
    assert study.status == "complete" and study.variants == ["fm", "deepfm"] and study.seeds == [0, 1]
    assert not study.missing and RunConfig.from_json(study.meta["base_config"]) == base
    assert any("[study] deepfm seed 1 done: test AUC" in line for line in logs)
    runs = {(v, s): p for v, by in study.runs.items() for s, p in by.items()}
    assert all(p.parent == path / "runs" and load_run(p).status == "complete" for p in runs.values())
    assert all(not os.path.isabs(rel) for by in study.meta["runs"].values() for rel in by.values())
    for (v, s), p in runs.items():
        assert RunConfig.from_json(load_run(p).meta["config"]) == st.variant_config(base, v, s)
    metas_by = {v: [load_run(runs[v, s]).meta for s in (0, 1)] for v in ("fm", "deepfm")}
    expected = st.summarise(metas_by)
    pd.testing.assert_frame_equal(study.summary, expected, check_dtype=False)
    assert study.best_baseline == st.best_baseline(expected) and (study.summary["n"] == 2).all()

    # Interrupt: one run failed, one folder deleted, one still "running" (killed), one complete but unrecorded
    # (the study was killed before it wrote study.json), and the study itself left "running".
    _set_status(runs["fm", 0], "failed")
    shutil.rmtree(runs["fm", 1])
    _set_status(runs["deepfm", 0], "running")
    m = read_json(path / st.STUDY_FILE)
    m["runs"]["deepfm"]["1"] = None
    m["status"] = "running"
    write_json(path / st.STUDY_FILE, m)
    assert st.study_summary(path)["runs"]["complete"] == 0  # fm 1's folder is missing, deepfm 1 unrecorded
    kept_created = read_json(runs["deepfm", 1] / RUN_FILE)["created"]

    calls: list[tuple[str, int]] = []
    real_execute = aim.pipeline.execute

    def counting(cfg, out_root, log=print, data=None):
        calls.append((st.token_of(cfg), cfg.seed))
        return real_execute(cfg, out_root, log=log, data=data)

    monkeypatch.setattr(aim.pipeline, "execute", counting)
    assert st.resume_study(path, jobs=1, log=logs.append) == path
    assert sorted(calls) == [("deepfm", 0), ("fm", 0), ("fm", 1)]
    study = st.load_study(path)
    assert study.status == "complete" and study.meta["error"] is None
    assert study.runs["deepfm"][1] == runs["deepfm", 1]  # reused, not redone
    assert read_json(runs["deepfm", 1] / RUN_FILE)["created"] == kept_created
    assert study.runs["fm"][0] != runs["fm", 0] and (study.summary["n"] == 2).all()

    # A run that keeps failing: the study is failed, names it, and its summary leaves it out.
    real_inner = aim.pipeline._execute

    def failing(cfg, *args, **kwargs):
        if cfg.variant == "fm" and cfg.seed == 1:
            raise RuntimeError("planted failure")
        return real_inner(cfg, *args, **kwargs)

    monkeypatch.setattr(aim.pipeline, "_execute", failing)
    _set_status(study.runs["fm"][1], "failed")
    calls.clear()
    st.resume_study(path, jobs=1, log=logs.append)
    assert calls == [("fm", 1)]
    study = st.load_study(path)
    assert study.status == "failed" and "fm seed 1: RuntimeError: planted failure" in study.meta["error"]
    assert any("fm seed 1 FAILED" in line for line in logs)
    failed_run = study.runs["fm"][1]
    assert failed_run is not None and load_run(failed_run).status == "failed"
    assert row(study.summary, "fm")["n"] == 1 and row(study.summary, "deepfm")["n"] == 2
    summary = st.study_summary(path)
    assert summary["status"] == "failed" and (summary["runs"]["complete"], summary["runs"]["total"]) == (3, 4)
    assert summary["runs"]["by_variant"]["fm"] == {"0": "complete", "1": "failed"}
    json.dumps(summary, allow_nan=False)  # valid JSON for the app

    monkeypatch.setattr(aim.pipeline, "_execute", real_inner)
    calls.clear()
    st.resume_study(path, jobs=1, log=logs.append)
    assert calls == [("fm", 1)]
    study = st.load_study(path)
    assert study.status == "complete" and (study.summary["n"] == 2).all()
    text = st.format_study(st.study_summary(path))
    assert "[complete]" in text and "4/4 runs complete" in text and "| fm | 2 |" in text

    with pytest.raises(ConfigError, match="another configuration"):
        st.run_study(base.replace(train=base.train.__class__(epochs=2)), "fm", [0], tmp_path, resume_dir=path)


def test_table_of_an_interrupted_study_counts_its_complete_runs(tmp_path, tiny_config, monkeypatch, capsys):
    """A study interrupted inside a variant (deepfm seed 0 complete, seed 1 never finished) still shows that
    variant's complete run: ``python -m aim table`` printed ``deepfm | 0 | --`` from the summary.csv written after
    the last *finished* variant."""
    from aim.cli import main

    real_execute = aim.pipeline.execute

    def interrupted(cfg, *args, **kwargs):
        if (cfg.variant, cfg.seed) == ("deepfm", 1):
            raise KeyboardInterrupt
        return real_execute(cfg, *args, **kwargs)

    monkeypatch.setattr(aim.pipeline, "execute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        st.run_study(tiny_config("fm"), "fm,deepfm", [0, 1], tmp_path, jobs=1, log=lambda _: None)
    path = next(tmp_path.iterdir())
    study = st.load_study(path)
    assert study.status == "failed" and study.run_statuses()["deepfm"] == {0: "complete", 1: "missing"}
    deepfm = load_run(study.runs["deepfm"][0]).meta["metrics"]["test"]["auc"]
    assert main(["table", str(path)]) == 0
    table = capsys.readouterr().out
    line = next(line for line in table.splitlines() if line.startswith("| deepfm |"))
    assert "| fm | 2 |" in table and line.startswith("| deepfm | 1 |") and f"{deepfm:.4f}" in line, table
    summary = st.study_summary(path)["summary"]
    assert [(r["variant"], r["n"]) for r in summary] == [("fm", 2), ("deepfm", 1)]


STUDY_ARGS = ["--synthetic-rows", "3000", "--synthetic-fields", "5", "--synthetic-noise-fields", "1",
              "--synthetic-planted-pairs", "2", "--search-epochs", "2", "--embed-epochs", "2", "--epochs", "2",
              "--mlp", "8", "--embed-dim", "4", "--grda-c", "0.12", "--embed-grda-c", "0.04", "--embed-l2", "0"]


def test_sigterm_marks_the_run_in_flight_failed_and_resume_continues_it(tmp_path):
    """``python -m aim study`` stopped with SIGTERM (the app's Cancel) inside an AIM run's embed stage: the run
    and the study are marked failed on disk, not left ``running``; the resumed study continues that run from its
    search checkpoint in its own folder."""
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT, cli_env

    proc = subprocess.Popen([sys.executable, "-m", "aim", "study", "--variants", "aim", "--seeds", "1", "--jobs",
                             "1", *STUDY_ARGS, "--out", str(tmp_path)], cwd=ROOT, env=cli_env(), text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    run = None
    deadline = time.time() + 240
    try:
        while time.time() < deadline and proc.poll() is None:
            runs = list(tmp_path.glob(f"study__*/{st.RUNS_DIR}/*/progress.json"))
            try:
                stage = json.loads(runs[0].read_text()).get("stage") if runs else None
            except (OSError, ValueError):
                stage = None
            if stage == "embed":
                run = runs[0].parent
                proc.send_signal(signal.SIGTERM)
                break
            time.sleep(0.005)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert run is not None, f"never reached the embed stage: {out[-3000:]}"
    assert proc.returncode != -signal.SIGTERM, "SIGTERM killed the study without unwinding it"
    on_disk = read_json(run / RUN_FILE)
    assert on_disk["status"] == "failed" and "signal" in on_disk["error"], on_disk["status"]
    path = run.parent.parent
    study = read_json(path / st.STUDY_FILE)
    assert study["status"] == "failed" and "interrupted" in study["error"]
    assert st.study_summary(path)["runs"]["by_variant"]["aim"]["0"] != "running"

    logs: list[str] = []
    st.resume_study(path, jobs=1, log=logs.append)
    study = st.load_study(path)
    assert study.status == "complete" and study.runs["aim"][0] == run, logs
    assert [p.name for p in (path / st.RUNS_DIR).iterdir()] == [run.name]
    assert load_run(run).meta["resumed"][0]["checkpoints"] == ["search"]
    assert any("continuing the interrupted" in line for line in logs)


@pytest.mark.skipif(not os.environ.get("AIM_TEST_PARALLEL"), reason="set AIM_TEST_PARALLEL=1: loky workers each "
                    "import torch and sklearn (about 40 s on 2 loaded cores)")
def test_study_parallel_seeds(tmp_path, tiny_config):
    logs: list[str] = []
    path = st.run_study(tiny_config("fm"), "fm", [0, 1], tmp_path, jobs=2, log=logs.append)
    study = st.load_study(path)
    assert study.status == "complete" and row(study.summary, "fm")["n"] == 2
    assert any("in 2 processes" in line for line in logs)
    assert {load_run(p).meta["seed"] for p in study.runs["fm"].values()} == {0, 1}


# ---------------------------------------------------------------------------------------------- exports

def test_table_exports():
    df = st.summarise(FIXED)
    back = pd.read_csv(io.StringIO(st.format_table(df, "csv")))
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    tex = st.to_latex(df)
    assert "\\begin{tabular}" in tex and "\\toprule" in tex and "\\bottomrule" in tex and tex.count("\\midrule") == 2
    assert "0.8500 $\\pm$ 0.0100" in tex  # aim-eds
    assert "\\textbf{0.9510 $\\pm$ 0.0010}$^{*}$" in tex  # the best AUC, significantly better than deepfm
    assert "\\textbf{0.3490 $\\pm$ 0.0010}$^{*}$" in tex  # and the best log loss
    assert "25.0\\%" in tex and "1{,}000 & 400" in tex
    fm_line = next(line for line in tex.splitlines() if line.startswith("fm &"))
    assert "$^{\\dagger}$" not in fm_line  # p = 0.02 vs deepfm: not significant
    worse = st.summarise({"deepfm": metas([0.83, 0.831, 0.832]), "aim": metas([0.70, 0.701, 0.702])})
    assert "0.7010 $\\pm$ 0.0010$^{\\dagger}$" in st.to_latex(worse)
    md = st.format_table(df, "markdown")
    assert md.startswith("| Model |") and "**0.9510 ± 0.0010**\\*" in md and "| aim-eds | 3 | 0.8500 ± 0.0100 |" in md
    assert "--" in md  # missing timings
    with pytest.raises(ConfigError, match="latex"):
        st.format_table(df, "html")


# -------------------------------------------------------------------------------------------- refusals

def _fake_study(tmp_path, **changes) -> os.PathLike:
    """A hand-made complete study folder with one recorded run that does not exist."""
    path = tmp_path / "study__synthetic__x"
    path.mkdir()
    df = st.summarise(FIXED)
    m = {"schema_version": 1, "kind": "study", "id": path.name, "status": "complete", "created": "now",
         "dataset": "synthetic", "variants": list(FIXED), "seeds": [0, 1, 2], "base_config": RunConfig().to_json(),
         "runs": {"fm": {"0": "runs/gone", "1": None}}, "summary": [], "best_baseline": "deepfm", **changes}
    write_json(path / st.STUDY_FILE, m)
    df.to_csv(path / st.SUMMARY_FILE, index=False)
    return path


def test_load_study_and_missing_runs(tmp_path):
    path = _fake_study(tmp_path)
    study = st.load_study(path)
    assert study.missing == ["runs/gone"] and study.runs["fm"] == {0: None, 1: None}
    assert study.run_statuses()["fm"] == {0: "missing", 1: "missing", 2: "missing"}
    s = st.study_summary(path)
    assert s["runs"]["missing"] == ["runs/gone"] and (s["runs"]["complete"], s["runs"]["total"]) == (0, 15)
    assert [r["variant"] for r in s["summary"]] == list(FIXED) and s["summary"][1]["p_auc"] is None
    assert st.is_study(path) and not st.is_study(tmp_path)
    assert "\\begin{tabular}" in st.study_table(path, "latex")


@pytest.mark.parametrize("damage, file, problem", [
    ("no_folder", None, "not a folder"),
    ("run_folder", st.STUDY_FILE, "run folder, not a study"),
    ("no_json", st.STUDY_FILE, "file is missing"),
    ("bad_json", st.STUDY_FILE, "not valid JSON"),
    ("kind", st.STUDY_FILE, "kind is 'run'"),
    ("newer", st.STUDY_FILE, "schema_version 2 is not supported"),
    ("keys", st.STUDY_FILE, "missing keys ['runs']"),
    ("status", st.STUDY_FILE, "status 'done'"),
    ("columns", st.SUMMARY_FILE, "missing columns ['p_auc'"),
    ("no_summary", st.SUMMARY_FILE, "missing from a complete study"),
    ("seed_key", st.STUDY_FILE, "not an integer"),
])
def test_load_study_refusals(tmp_path, damage, file, problem):
    path = _fake_study(tmp_path)
    m = read_json(path / st.STUDY_FILE)
    if damage == "no_folder":
        path = tmp_path / "nope"
    elif damage == "run_folder":
        (path / st.STUDY_FILE).unlink()
        write_json(path / RUN_FILE, {"kind": "run"})
    elif damage == "no_json":
        (path / st.STUDY_FILE).unlink()
    elif damage == "bad_json":
        (path / st.STUDY_FILE).write_text("{not json")
    elif damage in ("kind", "newer", "keys", "status", "seed_key"):
        m.update({"kind": {"kind": "run"}, "newer": {"schema_version": 2}, "status": {"status": "done"},
                  "seed_key": {"runs": {"fm": {"zero": None}}}}.get(damage, {}))
        if damage == "keys":
            del m["runs"]
        write_json(path / st.STUDY_FILE, m)
    elif damage == "columns":
        pd.read_csv(path / st.SUMMARY_FILE).drop(columns=["p_auc"]).to_csv(path / st.SUMMARY_FILE, index=False)
    elif damage == "no_summary":
        (path / st.SUMMARY_FILE).unlink()
    with pytest.raises(RunFormatError) as err:
        st.load_study(path)
    assert problem in str(err.value)
    assert err.value.path == str(path if file is None else path / file)


def test_running_study_without_summary_loads(tmp_path):
    path = _fake_study(tmp_path, status="running")
    (path / st.SUMMARY_FILE).unlink()
    study = st.load_study(path)
    assert study.summary is None and st.study_summary(path)["summary"] == []
    with pytest.raises(RunFormatError, match="no summary yet"):
        st.study_table(path)


def test_summary_nan_roundtrip_is_valid_json():
    df = st.summarise(FIXED)
    rows = st.json_records(df)
    assert json.loads(json.dumps(rows, allow_nan=False))[1]["p_auc"] is None
    assert np.isclose(rows[0]["auc_mean"], 0.81)


# ------------------------------------------------------------------------------------------- fis-vs-stats

def test_fis_vs_stats_study_on_tiny_data(tmp_path, capsys):
    from aim.selection import rule_selection, to_spec
    from tests.fixtures_app import make_tiny_parent

    parent = make_tiny_parent(tmp_path / "parents")
    with pytest.raises(ConfigError, match="--top must be in"):
        st.run_fis_vs_stats(parent, 99, 2, tmp_path / "out", log=lambda m: None)
    with pytest.raises(ConfigError, match="not an AIM run"):
        fm = make_tiny_parent(tmp_path / "parents", "synthetic__fm__seed0__20260107T000000")
        inter = load_run(fm).interactions.assign(alpha=float("nan"))
        inter.to_csv(fm / "interactions.csv", index=False)
        st.run_fis_vs_stats(fm, 2, 2, tmp_path / "out", log=lambda m: None)
    assert not (tmp_path / "out").exists()  # refused before any work
    path = st.run_fis_vs_stats(parent, 2, 2, tmp_path / "out", log=lambda m: None)
    study = st.load_study(path)
    assert study.status == "complete" and study.kind == "fis-vs-stats" and study.reference == "fis"
    assert study.variants == ["fis", "stats", "random"] and study.seeds == [0, 1]
    inter = load_run(parent).interactions
    for rule in study.variants:
        for seed in study.seeds:
            run = load_run(study.runs[rule][seed])
            cfg = run.meta["config"]
            assert cfg["variant"] == "retrain" and cfg["retrain_dims"] == "full" and cfg["seed"] == seed
            assert cfg["columns"] == to_spec(rule_selection(inter, rule, 2, seed)) == study.meta["selections"][rule][
                str(seed)]
            assert run.meta["parent"]["id"] == parent.name
    summary = study.current_summary()
    assert list(summary["variant"]) == ["fis", "stats", "random"] and (summary["n"] == 2).all()
    fis = [load_run(study.runs["fis"][s]).meta["metrics"]["test"]["auc"] for s in (0, 1)]
    stats_ = [load_run(study.runs["stats"][s]).meta["metrics"]["test"]["auc"] for s in (0, 1)]
    assert row(summary, "stats")["p_auc"] == pytest.approx(st.ttest_pvalue(stats_, fis), nan_ok=True)
    assert math.isnan(row(summary, "fis")["p_auc"])
    table = st.study_table(path, "markdown")
    assert "| Rule | n | AUC | p (AUC) vs fis |" in table and "| stats | 2 |" in table
    assert st.study_table(path, "latex").count("\\\\") == 4
    assert st.study_summary(path)["study_kind"] == "fis-vs-stats"
    from aim.report import write_report

    html = write_report(path, tmp_path / "report.html").read_text()
    assert "(paper §4.4.2)" in html and "top-N by statistics AUC" in html
    logs: list[str] = []
    assert st.resume_study(path, log=logs.append) == path  # every run reused, nothing trained again
    assert sum("reused" in m for m in logs) == 6 and not any("running seed" in m for m in logs)
    assert main_study(["--resume", str(path)]) == 0
    assert "top 2 pairs, p-values against fis" in capsys.readouterr().out


def main_study(args: list[str]) -> int:
    from aim.cli import main

    return main(["study", *args])


def test_resume_with_add_variants_adds_rows_and_reuses_every_run(tmp_path):
    from tests.conftest import _tiny_config

    path = st.run_study(_tiny_config(), "fm", "1", tmp_path, jobs=1, log=lambda m: None)
    before = read_json(st.load_study(path).runs["fm"][0] / RUN_FILE)["created"]
    logs: list[str] = []
    st.resume_study(path, jobs=1, log=logs.append, add="fwfm")
    study = st.load_study(path)
    assert study.variants == ["fm", "fwfm"] and study.status == "complete"
    assert read_json(study.runs["fm"][0] / RUN_FILE)["created"] == before  # reused, not redone
    assert any("fm seed 0 reused" in line for line in logs)
    with pytest.raises(ConfigError, match="unknown variant"):
        st.resume_study(path, jobs=1, log=lambda m: None, add="nope")
