"""The variants kind of study (the paper's ablation and complexity tables): every variant token × every seed
of one base config."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aim.config import RunConfig
from aim.errors import ConfigError
from aim.runs import now
from aim.study.folder import DEFAULT_OUT, SCHEMA_VERSION, Study, config_diff, load_study, new_study_dir
from aim.study.runner import run_plan, sigterm_unwinds
from aim.study.tokens import (
    TRANSFER_VARIANTS,
    Log,
    add_transfer_rows,
    check_seeds,
    default_jobs,
    parse_seeds,
    parse_variants,
    transfer_supported,
    variant_config,
)

KIND = "variants"


@sigterm_unwinds()
def run_study(base: RunConfig, variants: str | Iterable[str], seeds: str | int | Iterable[int],
              out_root: str | Path = DEFAULT_OUT, jobs: int | None = 1, log: Log = print,
              resume_dir: str | Path | None = None, transfer_from: str | None = None) -> Path:
    """Run every variant token × seed of ``base`` (its variant and seed are ignored) and write the study folder
    under ``out_root``, or finish the study in ``resume_dir`` (its variants / seeds are extended by the given
    ones; ``base`` must equal its base_config). Seeds of one variant run in ``jobs`` loky processes (None:
    ``default_jobs``), each with ``cpu_count // jobs`` torch threads. Every value is validated before any work
    starts. Returns the study folder; its status is ``complete`` only when every run is."""
    tokens = parse_variants(variants)
    seed_list = parse_seeds(seeds) if isinstance(seeds, str | int) else check_seeds(seeds)
    if base.model.embedding != "fwe":
        raise ConfigError(f"embedding={base.model.embedding!r} in a study: use the -se variant tokens instead "
                          f"(e.g. aim-se); plain AIM tokens use function-wise embeddings")
    if transfer_from is None and transfer_supported():
        transfer_from = base.transfer_from or None
    meta: dict[str, Any]
    if resume_dir is not None:
        study = load_study(resume_dir)
        stored = study.base_config()
        diff = [k for k in config_diff(stored.to_json(), base.to_json())
                if k not in ("variant", "seed", "transfer_from")]
        if diff:
            raise ConfigError(f"{study.path}: the study was made with another configuration (differs in "
                              f"{', '.join(diff)}); resume it with its own (python -m aim study --resume)")
        stored_transfer = study.meta.get("transfer_from")
        if transfer_from and stored_transfer and str(transfer_from) != stored_transfer:
            raise ConfigError(f"{study.path}: the study transfers from {stored_transfer}, not {transfer_from}")
        transfer_from = transfer_from or stored_transfer
        tokens = list(dict.fromkeys(parse_variants(study.variants) + tokens))
        seed_list = list(dict.fromkeys(study.seeds + seed_list))
        path, meta = study.path, study.meta
    tokens = add_transfer_rows(tokens, transfer_from, log)
    if any(t in TRANSFER_VARIANTS for t in tokens) and not transfer_from:
        raise ConfigError(f"variants {', '.join(TRANSFER_VARIANTS)} need --transfer-from RUN_DIR")
    plan = {t: {s: variant_config(base, t, s, transfer_from) for s in seed_list} for t in tokens}
    if jobs is None and resume_dir is not None:
        jobs = meta.get("jobs")  # --resume finishes a study with its own settings, its processes included
    jobs = default_jobs(len(seed_list)) if jobs is None else jobs
    if not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs must be an integer >= 1, got {jobs!r}")

    if resume_dir is None:
        path = new_study_dir(Path(out_root), base.dataset)
        meta = {"schema_version": SCHEMA_VERSION, "kind": "study", "id": path.name, "status": "running",
                "error": None, "created": now(), "updated": now(), "dataset": base.dataset}
        log(f"[study] {path}")
    else:
        log(f"[study] resuming {path}")
    old_runs = meta.get("runs", {})
    meta.update(status="running", error=None, variants=tokens, seeds=seed_list, jobs=jobs,
                base_config=base.to_json(), transfer_from=str(transfer_from) if transfer_from else None,
                runs={t: {str(s): (old_runs.get(t) or {}).get(str(s)) for s in seed_list} for t in tokens})
    meta.setdefault("summary", [])
    meta.setdefault("best_baseline", None)
    return run_plan(path, meta, plan, jobs, log)


def resume(study: Study, jobs: int | None, log: Log) -> Path:
    """Finish ``study`` with its own configuration, variants and seeds (``--resume``)."""
    return run_study(study.base_config(), study.variants, study.seeds, study.path.parent, jobs=jobs, log=log,
                     resume_dir=study.path, transfer_from=study.meta.get("transfer_from"))
