"""The fis-vs-stats kind of study (paper §4.4.2): re-train the top-N 2nd-order interactions of a parent AIM run by
its gates' |α| (FIS), the top-N by statistics AUC, and N drawn at random, K seeds each, and test whether the
gates' choice beats the others.

Every rule gives each pair the same function: the one the gates kept for it in the parent (its kept column of
largest |α|), else the parent's most frequent kept function (``aim.selection.rule_selection``). The random rule
draws its N pairs with ``numpy.random.default_rng(seed)``, a new draw per seed. Every run is a ``retrain`` run of
the parent's config with full embedding sizes (``retrain_dims=full``: only the selection differs between the
rules) and records the parent. The summary has one row per rule; p-values are the unpaired t-test against
``fis``. study.json adds ``study_kind``, ``parent``, ``top``, ``reference`` and ``selections`` (rule -> seed ->
spec) to the keys of the variants kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from aim.config import RETRAIN, RunConfig
from aim.errors import AIMError, ConfigError
from aim.runs import Run, load_run, now
from aim.selection import RULES, pair_table, rule_selection, to_spec
from aim.study.folder import DEFAULT_OUT, SCHEMA_VERSION, Study, load_study, new_study_dir
from aim.study.runner import run_plan, sigterm_unwinds
from aim.study.tokens import Log, check_seeds, default_jobs, parse_seeds

KIND = "fis-vs-stats"
REFERENCE = "fis"


def parent_run(path: str | Path) -> Run:
    """The parent: a complete AIM run with searched 2nd-order interactions; ``ConfigError`` naming it otherwise."""
    try:
        run = load_run(path)
    except AIMError as exc:
        raise ConfigError(f"--from {path}: {exc}") from None
    if run.status != "complete":
        raise ConfigError(f"--from {path}: the run is {run.status}; a complete AIM run is needed")
    if run.interactions is None or run.interactions["alpha"].isna().all():
        raise ConfigError(f"--from {path}: not an AIM run with searched interactions (variant "
                          f"{run.meta.get('variant')}); the study ranks its pairs by the gates' |α|")
    return run


def default_top(run: Run) -> int:
    """N when ``--top`` is 0: the number of 2nd-order interactions the parent kept."""
    return max(1, int((pair_table(run.interactions)["kept_function"].notna()).sum()))


def plan(parent: str | Path, run: Run, top: int, seeds: list[int]) -> tuple[dict, dict]:
    """``(rule -> seed -> RunConfig, rule -> seed -> spec)``: the parent's config as a ``retrain`` of each rule's
    selection, seeded, full embedding sizes."""
    try:
        base = RunConfig.from_json(run.meta["config"])
    except ConfigError as exc:
        raise ConfigError(f"--from {parent}: its config cannot be used: {exc}") from None
    cells: dict[str, dict[int, RunConfig]] = {}
    specs: dict[str, dict[str, str]] = {}
    for rule in RULES:
        cells[rule], specs[rule] = {}, {}
        for seed in seeds:
            spec = to_spec(rule_selection(run.interactions, rule, top, seed))
            cells[rule][seed] = base.replace(variant=RETRAIN, seed=seed, columns=spec, transfer_from=str(parent),
                                             retrain_dims="full", note="")
            specs[rule][str(seed)] = spec
    return cells, specs


@sigterm_unwinds()
def run_fis_vs_stats(parent: str | Path, top: int, seeds: str | int | Iterable[int],
                     out_root: str | Path = DEFAULT_OUT, jobs: int | None = 1, log: Log = print,
                     resume_dir: str | Path | None = None) -> Path:
    """Write (or, ``resume_dir``, finish) a fis-vs-stats study of the AIM run ``parent`` under ``out_root``: each
    rule's ``top`` pairs (0 = as many as the parent kept) re-trained with every seed. Every value is checked
    before any work; returns the study folder."""
    seed_list = parse_seeds(seeds) if isinstance(seeds, str | int) else check_seeds(seeds)
    run = parent_run(parent)
    if not isinstance(top, int) or isinstance(top, bool) or top < 0:
        raise ConfigError(f"--top must be an integer >= 0 (0 = as many pairs as the parent kept), got {top!r}")
    top = top or default_top(run)
    cells, specs = plan(parent, run, top, seed_list)
    dataset = cells[REFERENCE][seed_list[0]].dataset
    if resume_dir is None:
        path = new_study_dir(Path(out_root), dataset)
        meta: dict = {"schema_version": SCHEMA_VERSION, "kind": "study", "id": path.name, "created": now(),
                      "dataset": dataset, "runs": {}}
        log(f"[study] {path}: {KIND} of {run.id}, top {top}, seeds {', '.join(map(str, seed_list))}")
    else:
        study = load_study(resume_dir)
        path, meta = study.path, study.meta
        log(f"[study] resuming {path}")
        jobs = meta.get("jobs") if jobs is None else jobs  # its own processes, as --resume promises
    jobs = default_jobs(len(seed_list)) if jobs is None else jobs
    if not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs must be an integer >= 1, got {jobs!r}")
    old = meta.get("runs", {})
    meta.update(status="running", error=None, updated=now(), study_kind=KIND, parent=str(parent), top=top, jobs=jobs,
                reference=REFERENCE, variants=list(RULES), seeds=seed_list, selections=specs,
                base_config=cells[REFERENCE][seed_list[0]].to_json(), transfer_from=None,
                runs={r: {str(s): (old.get(r) or {}).get(str(s)) for s in seed_list} for r in RULES})
    meta.setdefault("summary", [])
    meta.setdefault("best_baseline", None)
    return run_plan(path, meta, cells, jobs, log, reference=REFERENCE)


def resume(study: Study, jobs: int | None, log: Log) -> Path:
    return run_fis_vs_stats(study.meta["parent"], int(study.meta["top"]), study.seeds, study.path.parent, jobs=jobs,
                            log=log, resume_dir=study.path)
