"""aim/analysis/summary.py: the plain-language summary of a study and of a run, exact sentences on small hand-made
inputs (the summary is aim.study.summarise itself over hand-made run metas), and the one significance rule the
CLI table, the Studies page and the reports state."""

from __future__ import annotations

import pandas as pd
import pytest

from aim.analysis import run_summary as R
from aim.analysis import summary as S
from aim.analysis import wording as W
from aim.study import stats
from aim.study.stats import RULE_CORE, SIGNIFICANCE, rule_text, summarise, verdict

RULE = "two-tailed t-test over 3 seeds, significant when p < 0.005"
PAPER = "the paper's AIM is 1.31× DeepFM's size (Table 7, Avazu: 3.8 vs 2.9 ×10⁷ parameters)"


def _meta(auc: float, before: int = 1000, after: int = 1000, infer: float | None = None) -> dict:
    m = {"status": "complete", "metrics": {"test": {"auc": auc, "logloss": 0.4}},
         "params": {"before_eds": before, "after_eds": after}}
    if infer is not None:
        m["timings"] = {"infer_seconds_per_100k": infer}
    return m


def _study(rows: dict) -> tuple[pd.DataFrame, dict]:
    """``{variant: (aucs per seed, params before, after, infer s)}`` -> (summary, auc_by_seed)."""
    summary = summarise({v: [_meta(a, *rest) for a in aucs] for v, (aucs, *rest) in rows.items()})
    return summary, {v: dict(enumerate(aucs)) for v, (aucs, *_) in rows.items()}


TIE = {"fm": ([0.70, 0.71, 0.72], 100, 100, 0.05), "deepfm": ([0.800, 0.801, 0.802], 1000, 1000, 2.0),
       "aim": ([0.801, 0.803, 0.805], 3000, 1500, 1.5)}


def test_a_simpler_model_that_ties_is_said_first_then_what_is_still_visible():
    summary, aucs = _study(TIE)
    kept = {0: {"a × b", "a × c"}, 1: {"a × b"}, 2: {"a × b", "b × c"}}
    assert S.study_summary_lines(summary, aucs, kept) == [
        "Accuracy: DeepFM, a simpler model, is as good as AIM here. AIM 0.8030 vs DeepFM 0.8010 test AUC (+0.0020, "
        f"p = 0.2): not significantly different under the rule ({RULE}).",
        "What is still visible: AIM's mean is 0.0020 higher and it is above DeepFM on 3 of 3 seeds, but under the "
        "rule that is not enough to call it better.",
        "Other variants: significantly different from DeepFM: FM (worse, -0.0910, p = 9.7e-05).",
        "Found: AIM kept 3 different interactions over 3 seeds: 1 on all 3 seeds (a × b); 2 on 1 of 3 seeds "
        "(a × c, b × c). An interaction kept on every seed is a robust finding; one kept on a single seed may be "
        "chance.",
        "Size: AIM's final model has 1,500 parameters (mean over 3 seeds), 1.50× DeepFM's 1,000; " + PAPER + ". EDS "
        "cut AIM's own model from 3,000 to 1,500 parameters (50% fewer): that is against AIM without EDS, not "
        "against DeepFM.",
        "Speed: scoring 100,000 rows took 1.50 s with AIM and 2.00 s with DeepFM, timed in study runs that shared "
        "the machine, so noisy: the benchmark (bench/, docs/benchmarks.md) is the place for speed.",
        "Next: use the simpler DeepFM, or re-run with more seeds or more data to tell the two apart.",
    ]


def test_aim_that_wins_points_to_the_transfer_variants():
    summary, aucs = _study({"deepfm": ([0.800, 0.801, 0.802], 1000, 1000), "aim": ([0.850, 0.851, 0.852], 2000, 1200)})
    assert S.study_summary_lines(summary, aucs, {0: {"a × b"}, 1: {"a × b"}, 2: {"a × b"}}) == [
        "Found: AIM kept 1 interaction over 3 seeds: 1 on all 3 seeds (a × b). An interaction kept on every seed is "
        "a robust finding; one kept on a single seed may be chance.",
        "Accuracy: AIM beats the best baseline, DeepFM. AIM 0.8510 vs DeepFM 0.8010 test AUC (+0.0500, p = 4.3e-07): "
        f"significantly better under the rule ({RULE}).",
        "Size: AIM's final model has 1,200 parameters (mean over 3 seeds), 1.20× DeepFM's 1,000; " + PAPER + ". EDS "
        "cut AIM's own model from 2,000 to 1,200 parameters (40% fewer): that is against AIM without EDS, not "
        "against DeepFM.",
        "Next: re-train the kept interactions in your production model (the transfer variants deepfm-transfer / "
        "ipnn-transfer, python -m aim study --transfer-from AIM_RUN_DIR).",
    ]


def test_a_simpler_model_that_wins_no_eds_no_deepfm_and_nothing_kept():
    summary, aucs = _study({"fm": ([0.900, 0.901, 0.902], 100, 100), "aim-eds": ([0.800, 0.801, 0.802], 2000, 2000)})
    assert S.study_summary_lines(summary, aucs, {0: set(), 1: set(), 2: set()}) == [
        "Accuracy: FM, a simpler model, beats aim-eds. aim-eds 0.8010 vs FM 0.9010 test AUC (-0.1000, p = 2.7e-08): "
        f"significantly worse under the rule ({RULE}).",
        "Found: aim-eds kept no interaction on any of its 3 seeds.",
        "Size: aim-eds's final model has 2,000 parameters (mean over 3 seeds); this study has no DeepFM to compare "
        "it with; for scale, " + PAPER + ". aim-eds has no EDS (embedding dimension search), so nothing was cut.",
        "Next: aim-eds kept no interaction; try more rows.",
    ]


def test_an_lr_baseline_counts_as_a_simpler_model_once_baselines_list_it(monkeypatch):
    monkeypatch.setattr(stats, "BASELINES", (*stats.BASELINES, "lr"))
    summary, aucs = _study({"lr": ([0.810, 0.811, 0.812],), "deepfm": ([0.800, 0.801, 0.802],),
                            "aim": ([0.809, 0.812, 0.812],)})
    lines = S.study_summary_lines(summary, aucs)
    assert lines[0] == ("Accuracy: LR, a simpler model, is as good as AIM here. AIM 0.8110 vs LR 0.8110 test AUC "
                        f"(0.0000, p = 1): not significantly different under the rule ({RULE}).")
    assert lines[1].startswith("Other variants: significantly different from LR: DeepFM (worse, -0.0100")
    assert lines[-1] == "Next: use the simpler LR, or re-run with more seeds or more data to tell the two apart."


def test_another_aim_variant_that_wins_is_the_next_step():
    summary, aucs = _study({"ipnn": ([0.800, 0.801, 0.802],), "aim-eds": ([0.850, 0.851, 0.852],),
                            "aim": ([0.790, 0.820, 0.830],)})
    lines = S.study_summary_lines(summary, aucs)
    assert lines[0].startswith("Accuracy: IPNN, a baseline without any search, is as good as AIM here.")
    assert lines[2] == "Other variants: significantly different from IPNN: aim-eds (better, +0.0500, p = 4.3e-07)."
    assert lines[-1] == ("Next: aim-eds, significantly better than IPNN here, is the variant to try; re-train its kept "
                         "interactions in your production model, or re-run with more seeds to confirm.")


def _planted(lines: list[str]) -> str:
    (line,) = [line for line in lines if line.startswith("Planted: ")]
    return line


def test_planted_precision_and_recall_over_seeds():
    summary, aucs = _study({"deepfm": ([0.80, 0.81],), "aim": ([0.80, 0.81],)})
    same = [{"precision": 1.0, "recall": 1.0, "hits": 3, "planted": 3}] * 2
    assert _planted(S.study_summary_lines(summary, aucs, planted=same)) == (
        "Planted: against the interactions planted in the synthetic data, precision 1.00 and recall 1.00 on each of "
        "the 2 seeds.")
    varied = [{"precision": 1.0, "recall": 0.5}, {"precision": 0.5, "recall": 1.0}]
    assert _planted(S.study_summary_lines(summary, aucs, planted=varied)) == (
        "Planted: against the interactions planted in the synthetic data, precision 0.75 and recall 0.75 on average "
        "over 2 seeds (precision 0.50-1.00, recall 0.50-1.00).")


def test_rules_study_against_its_reference_rule():
    summary = summarise({"fis": [_meta(a) for a in (0.800, 0.801, 0.802)],
                         "stats": [_meta(a) for a in (0.799, 0.801, 0.800)]}, reference="fis")
    assert S.rules_summary_lines(summary, "fis", 7, "runs/parent") == [
        "Found: the 7 pairs each rule picks from runs/parent were re-trained with the same settings over 3 seeds; "
        "rules: FIS (top pairs by the gates), statistics AUC (top pairs by it).",
        "Accuracy: FIS (top pairs by the gates) 0.8010 vs statistics AUC (top pairs by it) 0.8000 test AUC (+0.0010, "
        "p = 0.29): not significantly different under the rule (two-tailed t-test over 3 seeds, against the FIS "
        "rule, significant when p < 0.005).",
        "Next: the rules tie here; more seeds (or a larger N) would be needed to tell them apart.",
    ]


RUN = {"variant": "aim", "seed": 0, "dataset": {"name": "synthetic"}, "stages": {"embed": {}},
       "metrics": {"test": {"auc": 0.87421, "logloss": 0.377}},
       "interactions": {"order2": {"kept": 2, "total": 45}, "order3": {"kept": 0, "total": 120}},
       "params": {"before_eds": 2000, "after_eds": 1500},
       "planted": {"precision": 1.0, "recall": 0.5, "hits": 2, "planted": 4}}


def test_a_run_on_its_own():
    assert R.run_summary_lines(RUN, {2: ["a × b", "c × d"], 3: []}) == [
        "Found: this AIM run kept 2 of 45 pairs (a × b, c × d); 0 of 120 triples.",
        "Planted: 2 of the 4 interactions planted in the synthetic data found; precision 1.00, recall 0.50.",
        "Accuracy: test AUC 0.8742, log loss 0.3770 (seed 0). One run cannot say whether it beats a baseline; a "
        "study compares it with the baselines over seeds: python -m aim study --dataset synthetic --seeds 5.",
        "Size: 1,500 parameters. EDS cut this run's model from 2,000 to 1,500 parameters (25% fewer), against the "
        "same model without EDS, not against DeepFM. This run is not part of a study, so there is no DeepFM of the "
        "same data and settings to compare with; for scale, " + PAPER + ".",
        "Next: a study over seeds tells whether these interactions make AIM better than the baselines; if they do, "
        "re-train them in your production model (the transfer variants).",
    ]


def test_a_run_of_a_study_against_its_deepfm_and_a_run_that_kept_nothing():
    lines = R.run_summary_lines({**RUN, "planted": None}, {2: []}, deepfm_params=1000.0, study_id="study__x",
                                variant_params=1250.0)
    assert lines == [
        "Found: this AIM run kept 0 of 45 pairs.",
        "Accuracy: test AUC 0.8742, log loss 0.3770 (seed 0). One run cannot say whether it beats a baseline; its "
        "study (study__x) compares it with the baselines over seeds.",
        "Size: this seed's final model has 1,500 parameters, 1.50× DeepFM's 1,000 (the mean of the study's DeepFM "
        "runs); over the study's seeds AIM averages 1,250, 1.25×. For scale, " + PAPER + ". EDS cut this run's "
        "model from 2,000 to 1,500 parameters (25% fewer), against the same model without EDS, not against DeepFM.",
        "Next: nothing was kept; try more rows.",
    ]
    baseline = R.run_summary_lines({**RUN, "variant": "fm", "planted": None, "stages": {},
                                    "params": {"before_eds": 100, "after_eds": 100}}, None, deepfm_params=1000.0)
    assert baseline[-1] == "Size: 100 parameters, 0.10× DeepFM's 1,000 (the mean of the study's DeepFM runs)."


def test_numbers_never_print_minus_zero_and_p_values_keep_two_digits():
    assert W.number(-0.00001) == "0.0000" and W.number(-0.00001, sign=True) == "0.0000"
    assert W.number(0.0018, sign=True) == "+0.0018" and W.number(-0.0236, sign=True) == "-0.0236"
    assert W.number(None) == "–" and W.pvalue(0.009231) == "0.0092" and W.pvalue(float("nan")) == "n/a"
    assert W.params(564845.4) == "564,845" and W.params(575559.5) == "575,560"


def test_kept_over_seeds_and_the_kept_table():
    assert S.kept_over_seeds({0: {"a", "b"}, 1: {"a"}}) == [(2, ["a"]), (1, ["b"])]
    inter = pd.DataFrame({"column": [0, 1, 2], "order": 2, "fields": ["0 1", "0 1", "0 2"],
                          "field_names": ["a × b", "a × b", "a × c"], "function": ["inner", "outer", "inner"],
                          "alpha": [0.5, -0.2, 0.1], "kept": [1, 1, 1], "interaction_kept": 1,
                          "stats_auc": [0.7, 0.7, 0.48], "planted": None})
    other = inter.assign(kept=[1, 0, 0], interaction_kept=[1, 1, 0], alpha=[0.3, 0.0, 0.0])
    table = S.kept_table({0: inter, 1: other})
    assert list(table["interaction"]) == ["a × b", "a × c"] and list(table["kept on"]) == ["2 of 2 seeds", "1 of 2 seeds"]
    assert list(table["functions kept (seeds)"]) == ["inner (2), outer (1)", "inner (1)"]
    assert list(table["mean |α| when kept"]) == pytest.approx([0.4, 0.1])
    note = R.inverse_stats_note(dict(zip(table["interaction"], table["statistics AUC"], strict=True)))
    assert note.startswith("1 of the kept interactions have a statistics AUC below 0.5 (a × c 0.480). Below 0.5 means")
    assert "the statistic ranks inversely" in note and "within 0.020 of 0.5" in note
    assert R.inverse_stats_note({"a × b": 0.7}) is None


def test_the_rule_in_words_and_the_verdict():
    assert rule_text() == ("significant = p < 0.005 in a two-tailed Student's t-test (pooled variance) over the seeds, "
                           "against the best baseline")
    assert RULE_CORE in rule_text(5, "the fis rule") and "over 5 seeds, against the fis rule" in rule_text(5, "the fis rule")
    assert verdict(0.009, 0.0018) == "not significantly different" and verdict(SIGNIFICANCE, 1) == verdict(0.5, 1)
    assert verdict(0.004, 0.01) == "significantly better" and verdict(0.004, -0.01) == "significantly worse"
    assert verdict(float("nan"), 0.1) == "not significantly different"


def test_a_runs_whole_training_time_is_a_column_only_where_runs_report_it():
    from aim import analysis
    from aim.study import to_markdown

    def timed(auc: float, seconds: float | None) -> dict:
        return {**_meta(auc), "timings": {} if seconds is None else {"train_seconds": seconds}}

    summary = summarise({"deepfm": [timed(0.80, 10), timed(0.81, 12)], "aim": [timed(0.82, 30), timed(0.83, None)]})
    assert list(summary["train_seconds"]) == [11, 30]
    assert list(analysis.ablation_table(summary, 2)["train s"]) == [11, 30]
    assert "| Infer s/100k | Train s |" in to_markdown(summary) and "| -- | 11 |" in to_markdown(summary)
    untimed = summarise({"deepfm": [_meta(0.80)]})
    assert "train_seconds" not in untimed and "train s" not in analysis.ablation_table(untimed, 1)
    assert "Train s |" not in to_markdown(untimed)


def test_aim_is_tested_directly_against_lr_and_gbdt_and_a_tie_is_weighed_first():
    summary, aucs = _study({"deepfm": ([0.800, 0.801, 0.802],), "lr": ([0.700, 0.700, 0.700],),
                            "gbdt": ([0.797, 0.804, 0.800],), "aim": ([0.805, 0.806, 0.807],)})
    lines = S.study_summary_lines(summary, aucs)
    practitioner = next(line for line in lines if line.startswith("Simplest models: "))
    assert "LR 0.7000, AIM +0.1060 (p = " in practitioner and "AIM is significantly better" in practitioner
    assert "GBDT 0.8003, AIM +0.0057 (p = 0.0" in practitioner
    assert "AIM is not significantly different from it (the models a practitioner" in practitioner
    assert lines[-1].endswith("GBDT, which needs no deep model, is not significantly worse than AIM either: weigh "
                              "them first.")


def test_a_table_with_comparison_networks_says_they_run_at_their_papers_settings():
    from aim.analysis.wording import settings_note

    assert settings_note(["aim", "deepfm", "lr", "fwfm"]) is None  # FwFM has no settings of its own to vary
    note = settings_note(["aim", "autoint", "deepfm", "dcnv2", "autoint"])
    assert note.startswith("AutoInt+ and DCN-V2 run at their papers' settings") and "--network-args" in note
    assert settings_note(["xdeepfm"]).startswith("xDeepFM runs at its paper's settings, untuned.")


def test_a_larger_baseline_that_ties_is_not_the_one_to_use():
    """A best baseline with more parameters than AIM that ties it: keep the smaller; a smaller one that ties: use it."""
    rows = {"deepfm": ([0.700, 0.701, 0.702], 1000, 1000), "xdeepfm": ([0.800, 0.801, 0.802], 3000, 3000),
            "aim": ([0.801, 0.803, 0.805], 3000, 2000)}
    summary, aucs = _study(rows)
    assert S.study_summary_lines(summary, aucs)[-1] == (
        "Next: xDeepFM ties AIM with 1.50× its parameters: keep the smaller AIM, or re-run with more seeds or more "
        "data to tell the two apart.")
    rows["xdeepfm"] = ([0.800, 0.801, 0.802], 1500, 1500)
    summary, aucs = _study(rows)
    assert S.study_summary_lines(summary, aucs)[-1] == (
        "Next: use xDeepFM, or re-run with more seeds or more data to tell the two apart.")
