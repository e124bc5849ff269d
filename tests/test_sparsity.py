"""GRDA strength as a crossing fraction, the parsimony rule, the EDS floor and the default mode that chooses
strengths and the embedding L2 on validation (aim/sparsity.py, aim/search.py)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from aim.candidates import refinements
from aim.config import ModelConfig, RunConfig, SearchConfig, SyntheticConfig, TrainConfig
from aim.grda import GRDA
from aim.model.nets import AIM, AIMSpec, count_parameters
from aim.pipeline import execute
from aim.runs import load_run
from aim.search import EmbedSearch, apply_eds_floor, eds_floor_parameters, final_positions
from aim.sparsity import (
    auc_standard_error,
    c_for_crossing,
    crossing_step,
    one_se_tolerance,
    parsimonious,
    schedule,
    threshold_per_c,
)
from aim.train import FitResult

# ------------------------------------------------------------------------------- crossing step <-> c


@pytest.mark.parametrize("lr, mu, cross, spe, epochs", [(1.0, 0.55, 0.25, 181, 4), (0.1, 0.9, 0.1, 188, 6),
                                                        (0.1, 0.6, 0.5, 50, 3)])
def test_c_for_crossing_is_the_closed_form_without_decay(lr, mu, cross, spe, epochs):
    t = round(cross * spe * epochs)
    # c·γ^½·(tγ)^μ = a₀ solved for c (aim_reference.md §10).
    assert c_for_crossing(0.6, cross, spe, epochs, lr, mu) == pytest.approx(0.6 / (lr**0.5 * (t * lr) ** mu))
    assert threshold_per_c(t, spe, lr, mu) == pytest.approx(lr**0.5 * (t * lr) ** mu)


@pytest.mark.parametrize("decay", [1.0, 0.75])
def test_crossing_step_inverts_c_for_crossing(decay):
    spe, epochs = 100, 5
    for cross in (0.1, 0.3, 0.77, 1.0):
        c = c_for_crossing(0.6, cross, spe, epochs, 0.5, 0.7, decay)
        assert crossing_step(c, 0.6, spe, 0.5, 0.7, decay) == round(cross * spe * epochs)


def _crossing_step_by_bisection(c, alpha0, spe, lr, mu, limit):
    """The slow reference: bisection on the summed threshold (what ``crossing_step`` did for every decay)."""
    if c * threshold_per_c(limit, spe, lr, mu) < alpha0:
        return None
    lo, hi = 0, limit
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if c * threshold_per_c(mid, spe, lr, mu) >= alpha0 else (mid, hi)
    return hi


@pytest.mark.parametrize("spe, lr, mu", [(4, 0.1, 0.9), (188, 1.0, 0.55), (37, 0.5, 0.7), (1, 0.1, 0.9)])
def test_crossing_step_with_a_constant_rate_equals_bisection(spe, lr, mu):
    limit = 20_000
    for c in (1e-4, 0.003, 0.01, 0.04, 0.1147, 0.5, 2.0, 50.0):
        want = _crossing_step_by_bisection(c, 0.6, spe, lr, mu, limit)
        assert crossing_step(c, 0.6, spe, lr, mu, limit=limit) == want, (c, want)


def test_the_derived_c_makes_the_grda_optimizer_zero_an_idle_gate_at_the_crossing_step():
    # A gate with no gradient sits at 0.6 until the threshold reaches 0.6: it must die exactly at the crossing step.
    spe, epochs, lr, mu = 20, 3, 0.1, 0.9
    c = c_for_crossing(0.6, 0.5, spe, epochs, lr, mu)
    gate = torch.nn.Parameter(torch.full((1,), 0.6))
    opt = GRDA([gate], lr=lr, c=c, mu=mu)
    died = None
    for step in range(1, spe * epochs + 1):
        gate.grad = torch.zeros(1)
        opt.step()
        if died is None and gate.item() == 0:
            died = step
    assert died == crossing_step(c, 0.6, spe, lr, mu) == 30


def test_a_given_c_overrides_the_crossing_fractions():
    (only,) = schedule(0.04, (0.1, 0.2), 0.6, 181, 4, 1.0, 0.55, 1.0)
    assert only.c == 0.04 and only.cross is None
    assert only.crossing_step == math.ceil((0.6 / 0.04) ** (1 / 0.55))  # 138: the figure issue 14 measured
    derived = schedule(-1.0, (0.1, 0.2), 0.6, 181, 4, 1.0, 0.55, 1.0)
    assert [s.cross for s in derived] == [0.1, 0.2] and derived[0].c > derived[1].c


# ------------------------------------------------------------------------------------- parsimony rule


def test_parsimony_rule_on_a_fixed_table():
    auc = [0.80, 0.877, 0.8827, 0.8825]
    size = [2, 6, 20, 40]
    assert parsimonious(auc, size, 0.0) == 2  # the most accurate
    assert parsimonious(auc, size, 0.001) == 2  # 0.877 is 0.0057 below the best
    assert parsimonious(auc, size, 0.006) == 1  # now the 6-column candidate is close enough and sparser
    assert parsimonious(auc, size, 1.0) == 0
    assert parsimonious([float("nan"), 0.7, 0.7], [1, 5, 5], 0.01) == 1  # NaN never qualifies; ties: the first


def test_auc_standard_error_is_hanley_mcneil():
    a, n1, n0 = 0.88, 1500, 4500
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    expected = math.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    assert auc_standard_error(a, n1, n0) == pytest.approx(expected)
    assert 0.005 < expected < 0.007
    y = np.r_[np.ones(n1), np.zeros(n0)]
    assert one_se_tolerance([0.8, a], y, 2.0) == pytest.approx(2 * expected)
    # More validation rows: a tighter rule.
    assert auc_standard_error(a, 10 * n1, 10 * n0) < expected / 3


def test_refinement_tries_fractions_between_the_kept_one_and_its_sparser_neighbour_that_missed():
    crosses, aucs = [0.1, 0.2, 0.4, 0.8], [0.66, 0.66, 0.78, 0.81]  # the 20k-row synthetic run: a cliff at 0.4-0.8
    assert refinements(crosses, aucs, 3, 0.012, 2) == [round(0.4 * 2 ** (1 / 3), 4), round(0.4 * 2 ** (2 / 3), 4)]
    assert refinements(crosses, aucs, 3, 0.04, 2) == []  # 0.4 qualified: no cliff to refine
    assert refinements(crosses, aucs, 0, 0.012, 2) == []  # the sparsest was kept
    assert refinements(crosses, aucs, 3, 0.012, 0) == []  # switched off
    assert refinements([None], [0.8], 0, 0.0, 2) == []  # c was given
    assert refinements([0.8, 0.4], [0.81, 0.78], 0, 0.012, 1) == [round(0.4 * 2**0.5, 4)]  # any listing order


# ------------------------------------------------------------------------------------------ EDS floor


def test_a_field_read_by_a_kept_column_never_leaves_eds_with_zero_dimensions():
    blocks = [(((0, 1), (1, 2)), (0, 3))]  # fields 0, 1, 2 are read; field 3 is not
    positions = ((), (2,), (), ())
    dual = np.array([[0.1, -0.5, 0.2, 0.0], [0.0, 0.0, 0.9, 0.3], [0.4, 0.0, 0.0, -0.45], [1, 1, 1, 1]])
    assert apply_eds_floor(positions, dual, blocks, 1) == ((1,), (2,), (3,), ())
    assert apply_eds_floor(positions, dual, blocks, 2) == ((1, 2), (2, 3), (0, 3), ())
    assert apply_eds_floor(positions, dual, blocks, 0) == positions


@pytest.mark.parametrize("head", ["embeddings", "products"])
def test_no_eds_result_is_smaller_than_the_eds_floor(head):
    """eds_floor_parameters (tools/eds_ceiling.py's bound) is the size at one dimension of each read field and
    nothing else, and every positions choice that respects the floor has at least that many parameters."""
    vocab, dim = [7, 30, 5, 12, 9], 4
    blocks = ((((0, 1), (0, 2), (1, 2)), (0, 1, 3)),)  # fields 3 and 4 are read by no kept column
    spec = AIMSpec(vocab, dim, False, blocks, positions=tuple((0, 1, 2, 3) for _ in vocab), mlp=(16, 8), head=head)
    floor = eds_floor_parameters(spec)
    by_hand = AIM(dataclasses.replace(spec, positions=((0,), (0,), (0,), (), ())))
    assert floor == count_parameters(by_hand)["total"]
    rng = np.random.default_rng(0)
    for _ in range(25):
        positions = []
        for i in range(len(vocab)):
            low = 1 if i <= 2 else 0
            k = int(rng.integers(low, dim + 1))
            positions.append(tuple(sorted(rng.choice(dim, size=k, replace=False).tolist())))
        size = count_parameters(AIM(dataclasses.replace(spec, positions=tuple(positions))))["total"]
        assert size >= floor
    assert eds_floor_parameters(spec, floor=2) > floor


@pytest.mark.parametrize("head, unused, dims_of_unused", [("embeddings", "auto", 4), ("products", "auto", 0),
                                                          ("products", "keep", 4), ("embeddings", "drop", 0)])
def test_a_field_no_kept_column_reads_follows_what_the_head_reads(head, unused, dims_of_unused):
    cfg = RunConfig(model=ModelConfig(embed_dim=4, head=head), search=SearchConfig(eds_unused=unused))
    beta = np.array([[0.5, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    embed = EmbedSearch(beta, FitResult(), {}, dual=np.ones((3, 4)))
    pos = final_positions(cfg, embed, [(((0, 1),), (0,))])
    assert len(pos[0]) == 1 and len(pos[1]) == 1  # field 1 lost every dimension: the floor gives one back
    assert len(pos[2]) == dims_of_unused


def test_with_the_mlp_in_stage_b_a_field_no_kept_column_reads_is_pruned_by_its_own_beta():
    """search.embed_mlp: that field's β had gradient from the MLP, so EDS decides it like any other field."""
    beta = np.array([[0.5, 0, 0, 0], [0, 0, 0, 0], [0, 0.3, 0, 0.2]])
    embed = EmbedSearch(beta, FitResult(), {}, dual=np.ones((3, 4)))
    blocks = [(((0, 1),), (0,))]
    for head in ("embeddings", "summed"):
        with_mlp = RunConfig(model=ModelConfig(embed_dim=4, head=head), search=SearchConfig(embed_mlp=True))
        assert final_positions(with_mlp, embed, blocks)[2] == (1, 3)
        keep = RunConfig(model=ModelConfig(embed_dim=4, head=head), search=SearchConfig(embed_mlp=True,
                                                                                       eds_unused="keep"))
        assert final_positions(keep, embed, blocks)[2] == (0, 1, 2, 3)  # an explicit keep still wins
    no_mlp = RunConfig(model=ModelConfig(embed_dim=4, mlp=()), search=SearchConfig(embed_mlp=True))
    assert final_positions(no_mlp, embed, blocks)[2] == (0, 1, 2, 3)  # no MLP to train: as without the option


# --------------------------------------------------------------------------------- the default mode

TINY = RunConfig(
    synthetic=SyntheticConfig(rows=6000, fields=5, noise_fields=1, planted_pairs=2, vocab=10, signal=3.0),
    model=ModelConfig(mlp=(8,), embed_dim=4),
    search=SearchConfig(search_epochs=3, embed_epochs=2, grda_cross="0.3,0.8", embed_grda_cross="0.5,1"),
    train=TrainConfig(epochs=2, batch_size=128, embed_l2_grid="0,0.05"),
)


@pytest.fixture(scope="module")
def default_mode_run(tmp_path_factory):
    return load_run(execute(TINY, tmp_path_factory.mktemp("runs"), log=lambda _: None))


def test_the_default_mode_writes_the_frontier_and_records_the_chosen_schedules(default_mode_run):
    run = default_mode_run
    table = pd.read_csv(run.path / "sparsity.csv")
    assert list(table["stage"].unique()) == ["search", "embed", "retrain"]
    # The listed fractions, maybe followed by a refinement round between the kept one and its sparser neighbour.
    assert list(table[table["stage"] == "search"]["cross"])[:2] == [0.3, 0.8]
    assert list(table[table["stage"] == "embed"]["cross"])[:2] == [0.5, 1.0]
    final = table[table["stage"] == "retrain"]  # every L2 from scratch, then every L2 from the search model
    assert list(zip(final["start"], final["embed_l2"])) == [("scratch", 0.0), ("scratch", 0.05), ("search", 0.0),
                                                            ("search", 0.05)]
    assert table.groupby("stage")["chosen"].sum().to_dict() == {"embed": 1, "retrain": 1, "search": 1}
    stages = run.meta["stages"]
    search = table[(table["stage"] == "search") & table["chosen"]].iloc[0]
    assert stages["search"]["grda"]["cross"] == search["cross"]
    assert stages["search"]["grda"]["c"] == pytest.approx(search["c"])
    assert stages["search"]["grda"]["crossing_step"] == search["crossing_step"]
    kept = run.interactions["kept"].sum()
    assert search["columns_kept"] == kept  # the run's selection is the chosen candidate's
    embed = table[(table["stage"] == "embed") & table["chosen"]].iloc[0]
    assert embed["dims_kept"] == run.fields["dims_kept"].sum()
    retrain = table[(table["stage"] == "retrain") & table["chosen"]].iloc[0]
    assert (stages["retrain"]["embed_l2"], stages["retrain"]["start"]) == (retrain["embed_l2"], retrain["start"])
    assert retrain["valid_auc"] == pytest.approx(run.meta["metrics"]["valid"]["auc"])
    assert retrain["valid_auc"] == table[table["stage"] == "retrain"]["valid_auc"].max()
    assert isinstance(run.meta["warnings"], list)


def test_candidates_in_parallel_processes_give_the_same_run_as_one_after_another(default_mode_run, tmp_path):
    # Every candidate starts from the same random states and the run continues from the chosen one's: the result
    # cannot depend on whether the candidates ran in 2 worker processes of 1 thread (the fixture) or one after the
    # other here, on 1 thread (the same thread count per candidate: float sums depend on it).
    if torch.get_num_threads() < 2:
        pytest.skip("needs 2 torch threads for the fixture's candidates to run in parallel processes")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        again = load_run(execute(TINY, tmp_path, log=lambda _: None))
    finally:
        torch.set_num_threads(threads)
    a, b = default_mode_run, again
    pd.testing.assert_frame_equal(pd.read_csv(a.path / "sparsity.csv").drop(columns="seconds"),
                                  pd.read_csv(b.path / "sparsity.csv").drop(columns="seconds"))
    assert a.meta["metrics"] == b.meta["metrics"]


def test_eds_floor_zero_lets_a_read_field_lose_everything_and_the_run_warns(tmp_path):
    cfg = dataclasses.replace(TINY, search=dataclasses.replace(TINY.search, embed_grda_cross="0.05", eds_floor=0),
                              train=dataclasses.replace(TINY.train, embed_l2=0.0))
    run = load_run(execute(cfg, tmp_path, log=lambda _: None))
    read = {int(i) for f in run.interactions.loc[run.interactions["kept"] == 1, "fields"] for i in f.split()}
    lost = [i for i in read if run.fields.loc[i, "dims_kept"] == 0]
    assert lost, "a crossing at 5 % of stage B should strip some read field: the test needs one"
    assert any("EDS removed every embedding dimension" in w for w in run.meta["warnings"])
