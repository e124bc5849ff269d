"""Studies: every variant × every seed of one dataset, aggregated as in the paper's tables (Tables 2-5, 7-10).

A study is a folder ``study__{dataset}__{UTC timestamp}`` (under ``--out``, default ``studies/``)::

    study.json    schema_version, kind "study", id, status, created / updated, dataset, variants, seeds,
                  base_config (RunConfig.to_json()), transfer_from, runs {variant: {seed: run path or null}},
                  summary (the rows of summary.csv, NaN as null), best_baseline, error
    summary.csv   one row per variant: SUMMARY_COLUMNS, then fi_ratio_order2, fi_ratio_order3, ...
    runs/         the run folders (aim.runs format), one per (variant, seed) attempt
    logs/         the full log of every run: {variant}__seed{seed}.log

Variant *tokens* are the ``RunConfig`` variants plus ``-se`` forms of the AIM ones (``aim-se``: the shared
embedding of paper Table 5; the plain AIM tokens use function-wise embeddings).

Statistics (``summarise``): mean ± *sample* standard deviation (ddof=1, the ± over seeds of the paper's tables)
of the test AUC and log loss of the complete runs; the p-value of each variant against the *best baseline* (the
one of fm / deepfm / ipnn in the study with the highest mean test AUC) is the two-tailed **unpaired** t-test
with equal variances (Student's, ``scipy.stats.ttest_ind(..., equal_var=True)``) on the per-seed values;
``significant`` marks p_auc < ``SIGNIFICANCE`` (0.005, the paper's threshold) in either direction; the
table exports mark a significant improvement with ``*`` and a significant degradation with a dagger.

A study is resumable: ``run_study`` on an existing folder (``resume_dir``) or ``resume_study`` reuses every run
that ``aim.runs.load_run`` reads as complete with the expected config, continues a failed or killed run that
checkpointed a stage from its last finished stage (``pipeline.resume``: a killed AIM run does not start over;
the run in flight when the study was stopped is found in ``runs/`` although study.json does not record it yet),
and redoes the other failed, running and missing ones. SIGTERM unwinds a study like Ctrl-C: the run in flight
and the study are marked failed. The summary only ever counts complete runs; the study is ``complete`` only when
every run is; until then ``python -m aim table`` / ``show`` summarise the recorded runs as they are now.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aim.config import VARIANTS, RunConfig
from aim.errors import AIMError, ConfigError, RunFormatError
from aim.runs import (
    CHECKPOINTS_DIR,
    RUN_FILE,
    STATUSES,
    load_run,
    now,
    read_json,
    read_table,
    write_csv,
    write_json,
    writer_alive,
)

SCHEMA_VERSION = 1
STUDY_FILE = "study.json"
SUMMARY_FILE = "summary.csv"
RUNS_DIR = "runs"
LOGS_DIR = "logs"
DEFAULT_OUT = "studies"
SIGNIFICANCE = 0.005  # paper: "* ... statistically significant improvement (t-test, p < 0.005)"
BASELINES = ("fm", "deepfm", "ipnn")
TRANSFER_VARIANTS = ("deepfm-transfer", "ipnn-transfer")
SE_SUFFIX = "-se"
DEFAULT_VARIANTS = ("fm", "deepfm", "ipnn", "aim-ifs-eds", "aim-eds", "aim")
TABLE_FORMATS = ("csv", "latex", "markdown")
SUMMARY_COLUMNS = ["variant", "n", "auc_mean", "auc_std", "logloss_mean", "logloss_std", "p_auc", "p_logloss",
                   "significant", "params_before_eds", "params_after_eds", "train_epoch_seconds",
                   "infer_seconds_per_100k"]
FI_PREFIX = "fi_ratio_order"
REQUIRED_KEYS = ("schema_version", "kind", "id", "status", "created", "dataset", "variants", "seeds",
                 "base_config", "runs")

Log = Callable[[str], None]


# ------------------------------------------------------------------------------------------- variant tokens

def valid_tokens() -> tuple[str, ...]:
    """Every study variant token: the RunConfig variants, then the ``-se`` form of each AIM variant."""
    return VARIANTS + tuple(v + SE_SUFFIX for v in VARIANTS if v.startswith("aim"))


def transfer_supported() -> bool:
    return all(v in VARIANTS for v in TRANSFER_VARIANTS)


def parse_variants(text: str | Iterable[str]) -> list[str]:
    """``"fm, deepfm,aim-se"`` (or a list of tokens) -> ``["fm", "deepfm", "aim-se"]``, duplicates dropped;
    an unknown token is a ``ConfigError`` that lists the valid ones."""
    items = text.split(",") if isinstance(text, str) else list(text)
    tokens = list(dict.fromkeys(t.strip() for t in items if t.strip()))
    if not tokens:
        raise ConfigError(f"no variants given; choose from: {', '.join(valid_tokens())}")
    unknown = [t for t in tokens if t not in valid_tokens()]
    if unknown:
        raise ConfigError(f"unknown variant {', '.join(map(repr, unknown))}; choose from: {', '.join(valid_tokens())}")
    return tokens


def parse_seeds(text: str | int | Iterable[int]) -> list[int]:
    """``5`` or ``"5"`` -> seeds 0..4; ``"1,3,7"`` (a comma list, ``"7,"`` for the single seed 7) -> those seeds."""
    if isinstance(text, int):
        text = str(text)
    if not isinstance(text, str):
        seeds = list(text)
    else:
        try:
            if "," in text:
                seeds = [int(s) for s in text.split(",") if s.strip()]
            else:
                count = int(text)
                if count < 1:
                    raise ConfigError(f"--seeds must be a count >= 1 or a comma list of seeds, got {text!r}")
                seeds = list(range(count))
        except ValueError:
            raise ConfigError(f"--seeds must be a count (5 = seeds 0..4) or a comma list (1,3,7), got {text!r}") from None
    return _check_seeds(seeds)


def _check_seeds(seeds: Iterable[int]) -> list[int]:
    seeds = list(dict.fromkeys(seeds))
    if not seeds:
        raise ConfigError("no seeds given")
    for s in seeds:
        if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < 2**32:
            raise ConfigError(f"seed must be an integer in [0, 2**32), got {s!r}")
    return seeds


def split_token(token: str) -> tuple[str, str | None]:
    """``"aim-eds-se"`` -> ``("aim-eds", "se")``; AIM tokens without suffix -> ``"fwe"``; others -> None."""
    if token.endswith(SE_SUFFIX) and token[: -len(SE_SUFFIX)] in VARIANTS:
        return token[: -len(SE_SUFFIX)], "se"
    return token, ("fwe" if token.startswith("aim") else None)


def token_of(config: RunConfig | Mapping) -> str:
    """The study token a run's config stands for (inverse of ``variant_config``)."""
    if isinstance(config, RunConfig):
        variant, embedding = config.variant, config.model.embedding
    else:
        variant, embedding = config.get("variant"), (config.get("model") or {}).get("embedding")
    return f"{variant}{SE_SUFFIX}" if embedding == "se" and str(variant).startswith("aim") else str(variant)


def _field_default(name: str) -> Any:
    f = next(f for f in dataclasses.fields(RunConfig) if f.name == name)
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def variant_config(base: RunConfig, token: str, seed: int, transfer_from: str | None = None) -> RunConfig:
    """The RunConfig of one study cell: ``base`` with the token's variant (and embedding: ``fwe`` for plain AIM
    tokens, ``se`` for ``-se`` tokens; baselines keep the base's) and ``seed``. Transfer variants get
    ``transfer_from``; the others get RunConfig's default there. Invalid values raise ``ConfigError``."""
    if token not in valid_tokens():
        raise ConfigError(f"unknown variant {token!r}; choose from: {', '.join(valid_tokens())}")
    variant, embedding = split_token(token)
    changes: dict[str, Any] = {"variant": variant, "seed": seed}
    if embedding is not None:
        changes["model"] = dataclasses.replace(base.model, embedding=embedding)
    if transfer_supported():
        if variant in TRANSFER_VARIANTS:
            source = transfer_from or base.transfer_from
            if not source:
                raise ConfigError(f"variant {token} needs a run to transfer from (--transfer-from RUN_DIR)")
            changes["transfer_from"] = str(source)
        else:
            changes["transfer_from"] = _field_default("transfer_from")
    return base.replace(**changes)


def add_transfer_rows(tokens: Sequence[str], transfer_from: str | None, log: Log = print) -> list[str]:
    """With ``transfer_from`` set, append the rows deepfm-transfer and ipnn-transfer (paper Table 10) when this
    version of aim has those variants, and say so when it does not."""
    tokens = list(tokens)
    if not transfer_from:
        return tokens
    if not transfer_supported():
        log(f"[study] --transfer-from {transfer_from}: this version of aim has no {' / '.join(TRANSFER_VARIANTS)} "
            "variants yet; those rows are skipped")
        return tokens
    return tokens + [t for t in TRANSFER_VARIANTS if t not in tokens]


def default_jobs(n_seeds: int) -> int:
    return max(1, min(n_seeds, os.cpu_count() or 1))


# ------------------------------------------------------------------------------------------------ statistics

def ttest_pvalue(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-tailed p-value of the unpaired (independent two-sample) t-test with pooled variance, i.e. Student's
    t-test, ``scipy.stats.ttest_ind(a, b, equal_var=True)``; NaN when a group has fewer than 2 values (or both
    are constant)."""
    a = [float(x) for x in a if _finite(x)]
    b = [float(x) for x in b if _finite(x)]
    if len(a) < 2 or len(b) < 2:
        return math.nan
    from scipy import stats

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(stats.ttest_ind(a, b, equal_var=True).pvalue)


def _finite(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool) and math.isfinite(x)


def _get(meta: Mapping, *keys: str) -> float:
    for k in keys:
        if not isinstance(meta, Mapping) or k not in meta:
            return math.nan
        meta = meta[k]
    return float(meta) if _finite(meta) else math.nan


def _mean(values: list[float]) -> float:
    vals = [v for v in values if math.isfinite(v)]
    return float(np.mean(vals)) if vals else math.nan


def _std(values: list[float]) -> float:
    vals = [v for v in values if math.isfinite(v)]
    return float(np.std(vals, ddof=1)) if len(vals) >= 2 else math.nan


def _fi_orders(metas: Iterable[Mapping]) -> list[int]:
    orders = {2}
    for m in metas:
        for key, value in (m.get("interactions") or {}).items():
            if key.startswith("order") and key[5:].isdigit() and isinstance(value, Mapping):
                orders.add(int(key[5:]))
    return sorted(orders)


def summarise(runs_by_variant: Mapping[str, Sequence[Mapping]]) -> pd.DataFrame:
    """Pure: ``{variant: [run.json meta of each seed]}`` -> one summary row per variant (in the given order).

    Only metas with ``status == "complete"`` (or no status) count; ``n`` is their number. AUC / log loss: mean
    and sample std (ddof=1) of ``metrics.test``; p-values: ``ttest_pvalue`` against the best baseline (NaN for
    the best baseline itself and when the study has none); parameters, ``timings`` and FI ratios: means over
    the runs that report them (NaN where none does)."""
    complete = {v: [m for m in metas if m.get("status", "complete") == "complete"] for v, metas in runs_by_variant.items()}
    orders = _fi_orders(m for metas in complete.values() for m in metas)
    values: dict[str, dict[str, list[float]]] = {}
    rows = []
    for variant, metas in complete.items():
        auc = [_get(m, "metrics", "test", "auc") for m in metas]
        logloss = [_get(m, "metrics", "test", "logloss") for m in metas]
        values[variant] = {"auc": auc, "logloss": logloss}
        row = {"variant": variant, "n": len(metas), "auc_mean": _mean(auc), "auc_std": _std(auc),
               "logloss_mean": _mean(logloss), "logloss_std": _std(logloss), "p_auc": math.nan,
               "p_logloss": math.nan, "significant": False,
               "params_before_eds": _mean([_get(m, "params", "before_eds") for m in metas]),
               "params_after_eds": _mean([_get(m, "params", "after_eds") for m in metas]),
               "train_epoch_seconds": _mean([_get(m, "timings", "train_epoch_seconds") for m in metas]),
               "infer_seconds_per_100k": _mean([_get(m, "timings", "infer_seconds_per_100k") for m in metas])}
        for k in orders:
            row[f"{FI_PREFIX}{k}"] = _mean([_get(m, "interactions", f"order{k}", "fi_ratio") for m in metas])
        rows.append(row)
    df = pd.DataFrame(rows, columns=SUMMARY_COLUMNS + [f"{FI_PREFIX}{k}" for k in orders])
    df["n"] = df["n"].astype(int)
    df["significant"] = df["significant"].astype(bool)
    best = best_baseline(df)
    if best is not None:
        ref = values[best]
        for i, variant in enumerate(df["variant"]):
            if variant == best:
                continue
            df.loc[i, "p_auc"] = ttest_pvalue(values[variant]["auc"], ref["auc"])
            df.loc[i, "p_logloss"] = ttest_pvalue(values[variant]["logloss"], ref["logloss"])
        df["significant"] = (df["p_auc"] < SIGNIFICANCE).astype(bool)
    return df


def best_baseline(df: pd.DataFrame) -> str | None:
    """The baseline (fm / deepfm / ipnn) of a summary with the highest mean test AUC; None when there is none
    (ties go to the earlier row)."""
    base = df[df["variant"].isin(BASELINES) & df["auc_mean"].notna()]
    if base.empty:
        return None
    return str(base.loc[base["auc_mean"].idxmax(), "variant"])


def _records(df: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: NaN -> None, numpy scalars -> Python."""
    out = []
    for row in df.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else (v.item() if hasattr(v, "item") else v))
                    for k, v in row.items()})
    return out


# -------------------------------------------------------------------------------------------- study folder

@dataclass
class Study:
    """A study folder read back and validated. ``runs`` maps variant -> seed -> absolute run folder (None when
    not recorded or not on disk); ``missing`` lists recorded run paths that do not exist."""

    path: Path
    meta: dict
    summary: pd.DataFrame | None
    runs: dict[str, dict[int, Path | None]]
    missing: list[str]

    @property
    def id(self) -> str:
        return self.meta["id"]

    @property
    def status(self) -> str:
        return self.meta["status"]

    @property
    def variants(self) -> list[str]:
        return list(self.meta["variants"])

    @property
    def seeds(self) -> list[int]:
        return list(self.meta["seeds"])

    @property
    def best_baseline(self) -> str | None:
        return self.meta.get("best_baseline")

    def base_config(self) -> RunConfig:
        try:
            return RunConfig.from_json(self.meta["base_config"])
        except ConfigError as exc:
            raise RunFormatError(self.path / STUDY_FILE, f"base_config: {exc}") from None

    def run_statuses(self) -> dict[str, dict[int, str]]:
        """variant -> seed -> complete / failed / running / missing (never run or folder gone) / unreadable;
        reads only each run.json."""
        out: dict[str, dict[int, str]] = {}
        for variant in self.variants:
            out[variant] = {}
            for seed in self.seeds:
                path = self.runs.get(variant, {}).get(seed)
                if path is None:
                    out[variant][seed] = "missing"
                    continue
                try:
                    status = read_json(path / RUN_FILE).get("status")
                except RunFormatError:
                    status = "unreadable"
                if status == "running" and writer_alive(path) is False:
                    status = "failed"  # its process is gone (killed): load_run reads it as interrupted too
                out[variant][seed] = status if status in STATUSES else "unreadable"
        return out

    def recorded_metas(self) -> dict[str, dict[int, dict | None]]:
        """variant -> seed -> the ``run.json`` dict of the run recorded there as ``load_run`` reads it (a killed
        run reads as failed; an unreadable one as ``{"status": "unreadable", "error": why}``), or None when the
        study has none there or its folder is gone."""
        out: dict[str, dict[int, dict | None]] = {}
        for variant in self.variants:
            out[variant] = {}
            for seed in self.seeds:
                path = self.runs.get(variant, {}).get(seed)
                if path is None:
                    out[variant][seed] = None
                    continue
                try:
                    out[variant][seed] = load_run(path, lazy=True).meta
                except RunFormatError as exc:
                    out[variant][seed] = {"id": path.name, "status": "unreadable", "error": str(exc)}
        return out

    def current_summary(self) -> pd.DataFrame | None:
        """The summary of the study as it stands: summary.csv once the study is complete; before that (running,
        interrupted, failed) ``summarise`` over its recorded runs read now, because summary.csv is rewritten only
        after a whole variant has run and would show an interrupted variant with no runs. A study whose runs
        are not on this machine (only study.json and summary.csv copied) keeps its summary.csv."""
        if self.status == "complete":
            return self.summary
        metas = self.recorded_metas()
        if not any(m is not None for by_seed in metas.values() for m in by_seed.values()):
            return self.summary
        return summarise({v: [m for m in by_seed.values() if m is not None] for v, by_seed in metas.items()})


def is_study(path: str | Path) -> bool:
    """Whether ``path`` is a study folder (has a study.json), for ``python -m aim show``."""
    return (Path(path) / STUDY_FILE).is_file()


def load_study(path: str | Path) -> Study:
    """Read and validate a study folder; raise ``RunFormatError`` naming the file and the problem. Recorded runs
    that no longer exist are listed in ``Study.missing`` (and map to None), not refused."""
    path = Path(path)
    if not path.is_dir():
        raise RunFormatError(path, "not a folder")
    file = path / STUDY_FILE
    if not file.exists() and (path / RUN_FILE).exists():
        raise RunFormatError(file, "file is missing: this is a run folder, not a study")
    meta = read_json(file)
    missing_keys = [k for k in REQUIRED_KEYS if k not in meta]
    if missing_keys:
        raise RunFormatError(file, f"missing keys {missing_keys}; this does not look like an AIM study")
    version = meta["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= SCHEMA_VERSION:
        raise RunFormatError(file, f"schema_version {version!r} is not supported (this AIM Explorer reads studies "
                             f"1..{SCHEMA_VERSION}; upgrade it to read newer ones)")
    if meta["kind"] != "study":
        raise RunFormatError(file, f"kind is {meta['kind']!r}, expected 'study'")
    if meta["status"] not in STATUSES:
        raise RunFormatError(file, f"status {meta['status']!r} is not one of {STATUSES}")
    if not isinstance(meta["variants"], list) or not all(isinstance(v, str) for v in meta["variants"]):
        raise RunFormatError(file, f"variants must be a list of names, got {meta['variants']!r}")
    if not isinstance(meta["seeds"], list) or not all(isinstance(s, int) and not isinstance(s, bool)
                                                      for s in meta["seeds"]):
        raise RunFormatError(file, f"seeds must be a list of integers, got {meta['seeds']!r}")
    if not isinstance(meta["base_config"], dict):
        raise RunFormatError(file, "base_config must be an object")
    runs: dict[str, dict[int, Path | None]] = {}
    missing: list[str] = []
    if not isinstance(meta["runs"], dict):
        raise RunFormatError(file, "runs must be an object {variant: {seed: path}}")
    for variant, by_seed in meta["runs"].items():
        if not isinstance(by_seed, dict):
            raise RunFormatError(file, f"runs[{variant!r}] must be an object {{seed: path}}")
        runs[variant] = {}
        for seed, rel in by_seed.items():
            try:
                seed_int = int(seed)
            except (TypeError, ValueError):
                raise RunFormatError(file, f"runs[{variant!r}] has a seed key {seed!r} that is not an integer") from None
            if rel is not None and not isinstance(rel, str):
                raise RunFormatError(file, f"runs[{variant!r}][{seed!r}] must be a path or null, got {rel!r}")
            run_path = _resolve(path, rel)
            if rel is not None and not run_path.is_dir():
                missing.append(rel)
                run_path = None
            runs[variant][seed_int] = run_path
    summary = None
    if (path / SUMMARY_FILE).exists():
        summary = read_table(path / SUMMARY_FILE, SUMMARY_COLUMNS)
    elif meta["status"] == "complete":
        raise RunFormatError(path / SUMMARY_FILE, "file is missing from a complete study")
    return Study(path=path, meta=meta, summary=summary, runs=runs, missing=missing)


def _resolve(study: Path, rel: str | None) -> Path | None:
    if rel is None:
        return None
    p = Path(rel)
    return p if p.is_absolute() else study / p


def _relative(study: Path, run: Path) -> str:
    try:
        return str(Path(run).resolve().relative_to(study.resolve()))
    except ValueError:
        return str(Path(run).resolve())


def _new_study_dir(out_root: Path, dataset: str) -> Path:
    out_root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    for n in itertools.count(1):
        path = out_root / (f"study__{dataset}__{stamp}" + ("" if n == 1 else f"-{n}"))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def _config_diff(a: Mapping, b: Mapping, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            out += _config_diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}")
    return out


# ---------------------------------------------------------------------------------------------- running

_DATA_CACHE: dict[tuple, Any] = {}


def _load_data(cfg: RunConfig) -> Any:
    """The data of ``cfg``, loaded once per process (one dataset kept: a study has one)."""
    key = (cfg.dataset, cfg.data_path, cfg.data, cfg.synthetic)
    if key not in _DATA_CACHE:
        from aim import pipeline

        _DATA_CACHE.clear()
        _DATA_CACHE[key] = pipeline.load_data(cfg)
    return _DATA_CACHE[key]


def _matches(meta: Mapping, cfg: RunConfig) -> bool:
    try:
        return RunConfig.from_json(meta.get("config")) == cfg
    except ConfigError:
        return False


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While in the block, SIGTERM (the app's Cancel, ``kill``) raises ``SystemExit`` in the main thread instead of
    ending the process on the spot, so the run in flight is marked failed (``pipeline``) and the study too
    (``run_study``), rather than both left ``running``. Elsewhere than the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, _frame: Any) -> None:
        raise SystemExit(f"terminated by signal {signum}")

    before = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _run_one(cfg: RunConfig, token: str, runs_dir: str, log_path: str, threads: int | None,
             resume_from: str | None = None) -> dict:
    """One (variant, seed) of a study, in this process or a joblib worker; never raises an ``Exception``: a
    failure comes back as ``status: failed`` with the run folder that ``execute`` marked failed (if any).
    ``resume_from``: an interrupted run of exactly ``cfg`` with finished stages; it is continued from its last
    checkpoint (``pipeline.resume``) instead of started over, and started over if it cannot be resumed."""
    from aim import pipeline

    if threads:
        import torch

        torch.set_num_threads(threads)
    start = time.perf_counter()
    runs = Path(runs_dir)
    before = set(os.listdir(runs)) if runs.is_dir() else set()
    result = {"token": token, "seed": cfg.seed, "path": None, "status": "failed", "error": None, "auc": math.nan}
    with _sigterm_unwinds(), open(log_path, "a", encoding="utf-8") as fh:  # a loky worker gets SIGTERM too
        def log(msg: str) -> None:
            fh.write(msg + "\n")
            fh.flush()

        log(f"=== {now()} {token} seed {cfg.seed}")
        try:
            path = None
            if resume_from is not None:
                try:
                    path = pipeline.resume(resume_from, log=log)
                except AIMError as exc:  # held by a live process, data changed, checkpoints unreadable
                    log(f"cannot resume {resume_from} ({exc}); starting this run over")
            if path is None:
                path = pipeline.execute(cfg, runs, log=log, data=_load_data(cfg))
            meta = read_json(path / RUN_FILE)
            result.update(path=str(path), status=meta.get("status", "failed"), error=meta.get("error"),
                          auc=_get(meta, "metrics", "test", "auc"))
        except Exception as exc:  # noqa: BLE001 - a failed run is recorded; the study goes on with the others
            log(traceback.format_exc())
            result["error"] = f"{type(exc).__name__}: {exc}"
            for name in sorted(set(os.listdir(runs)) - before) if runs.is_dir() else ():
                try:
                    if _matches(read_json(runs / name / RUN_FILE), cfg):
                        result["path"] = str(runs / name)
                except RunFormatError:
                    continue
    result["seconds"] = time.perf_counter() - start
    return result


def _parallel_results(tasks: list[tuple], jobs: int) -> Iterable[dict]:
    from joblib import Parallel, delayed

    n = min(jobs, len(tasks))
    try:
        par = Parallel(n_jobs=n, backend="loky", return_as="generator_unordered")
    except ValueError:  # joblib < 1.4
        par = Parallel(n_jobs=n, backend="loky", return_as="generator")
    yield from par(delayed(_run_one)(*t) for t in tasks)


def _index_runs(runs_dir: Path, complete: bool = True) -> dict[tuple[str, int], list[Path]]:
    """Complete (or, ``complete=False``, unfinished) runs on disk by (token, seed), newest first: finds the runs a
    killed study never recorded (a run is recorded in study.json only once it has ended)."""
    index: dict[tuple[str, int], list[tuple[str, Path]]] = {}
    if not runs_dir.is_dir():
        return {}
    for p in runs_dir.iterdir():
        try:
            meta = read_json(p / RUN_FILE) if p.is_dir() else None
        except RunFormatError:
            continue
        if not meta or (meta.get("status") == "complete") != complete or not isinstance(meta.get("config"), dict):
            continue
        key = (token_of(meta["config"]), meta["config"].get("seed"))
        index.setdefault(key, []).append((str(meta.get("created", "")), p))
    return {k: [p for _, p in sorted(v, key=lambda t: t[0], reverse=True)] for k, v in index.items()}


def _reusable(path: Path | None, cfg: RunConfig) -> dict | None:
    """The meta of a complete run of exactly ``cfg`` at ``path``, else None."""
    if path is None or not Path(path).is_dir():
        return None
    try:
        run = load_run(path)
    except RunFormatError:
        return None
    return run.meta if run.status == "complete" and _matches(run.meta, cfg) else None


def _resumable(path: Path | None, cfg: RunConfig) -> str | None:
    """``path`` when it is an unfinished run of exactly ``cfg`` that checkpointed at least one stage."""
    if path is None or not (Path(path) / CHECKPOINTS_DIR).is_dir():
        return None
    try:
        meta = read_json(Path(path) / RUN_FILE)
    except RunFormatError:
        return None
    if meta.get("status") == "complete" or not _matches(meta, cfg):
        return None
    return str(path) if any((Path(path) / CHECKPOINTS_DIR).glob("*.pt")) else None


@_sigterm_unwinds()
def run_study(base: RunConfig, variants: str | Iterable[str], seeds: str | int | Iterable[int],
              out_root: str | Path = DEFAULT_OUT, jobs: int | None = 1, log: Log = print,
              resume_dir: str | Path | None = None, transfer_from: str | None = None) -> Path:
    """Run every variant token × seed of ``base`` (its variant and seed are ignored) and write the study folder
    under ``out_root``, or finish the study in ``resume_dir`` (its variants / seeds are extended by the given
    ones; ``base`` must equal its base_config). Seeds of one variant run in ``jobs`` loky processes (None:
    ``default_jobs``), each with ``cpu_count // jobs`` torch threads. Every value is validated before any work
    starts. Returns the study folder; its status is ``complete`` only when every run is."""
    tokens = parse_variants(variants)
    seed_list = parse_seeds(seeds) if isinstance(seeds, str | int) else _check_seeds(seeds)
    if base.model.embedding != "fwe":
        raise ConfigError(f"embedding={base.model.embedding!r} in a study: use the -se variant tokens instead "
                          f"(e.g. aim-se); plain AIM tokens use function-wise embeddings")
    if transfer_from is None and transfer_supported():
        transfer_from = base.transfer_from or None
    meta: dict[str, Any]
    if resume_dir is not None:
        study = load_study(resume_dir)
        stored = study.base_config()
        diff = [k for k in _config_diff(stored.to_json(), base.to_json()) if k not in ("variant", "seed", "transfer_from")]
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
    jobs = default_jobs(len(seed_list)) if jobs is None else jobs
    if not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs must be an integer >= 1, got {jobs!r}")

    if resume_dir is None:
        path = _new_study_dir(Path(out_root), base.dataset)
        meta = {"schema_version": SCHEMA_VERSION, "kind": "study", "id": path.name, "status": "running",
                "error": None, "created": now(), "updated": now(), "dataset": base.dataset}
        log(f"[study] {path}")
    else:
        log(f"[study] resuming {path}")
    old_runs = meta.get("runs", {})
    meta.update(status="running", error=None, variants=tokens, seeds=seed_list,
                base_config=base.to_json(), transfer_from=str(transfer_from) if transfer_from else None,
                runs={t: {str(s): (old_runs.get(t) or {}).get(str(s)) for s in seed_list} for t in tokens})
    meta.setdefault("summary", [])
    meta.setdefault("best_baseline", None)
    runs_dir, logs_dir = path / RUNS_DIR, path / LOGS_DIR
    runs_dir.mkdir(exist_ok=True)
    logs_dir.mkdir(exist_ok=True)

    def flush() -> None:
        meta["updated"] = now()
        write_json(path / STUDY_FILE, meta)

    complete: dict[str, dict[int, dict]] = {t: {} for t in tokens}
    failed: list[str] = []

    def update_summary() -> None:
        df = summarise({t: [complete[t][s] for s in seed_list if s in complete[t]] for t in tokens})
        write_csv(path / SUMMARY_FILE, df)
        meta.update(summary=_records(df), best_baseline=best_baseline(df))
        flush()

    try:
        flush()
        index, unfinished = _index_runs(runs_dir), _index_runs(runs_dir, complete=False)
        for token in tokens:
            todo = []
            resumable: dict[int, str | None] = {}
            for seed in seed_list:
                cfg = plan[token][seed]
                recorded = _resolve(path, meta["runs"][token][str(seed)])
                for candidate in [recorded, *index.get((token, seed), [])]:
                    found = _reusable(candidate, cfg)
                    if found is not None:
                        complete[token][seed] = found
                        meta["runs"][token][str(seed)] = _relative(path, candidate)
                        log(f"[study] {token} seed {seed} reused: test AUC {_get(found, 'metrics', 'test', 'auc'):.4f} "
                            f"({_relative(path, candidate)})")
                        break
                else:
                    todo.append(seed)
                    resumable[seed] = next(filter(None, (_resumable(p, cfg) for p in [recorded, *unfinished.get(
                        (token, seed), [])])), None)
            if todo:
                n_proc = min(jobs, len(todo))
                threads = max(1, (os.cpu_count() or 1) // n_proc) if n_proc > 1 else None
                log(f"[study] {token}: running seed{'s' if len(todo) > 1 else ''} {', '.join(map(str, todo))}"
                    + (f" in {n_proc} processes" if n_proc > 1 else "") + f" (logs in {logs_dir})")
                for s in todo:
                    if resumable[s]:
                        log(f"[study] {token} seed {s}: continuing the interrupted {resumable[s]} from its last "
                            "finished stage")
                tasks = [(plan[token][s], token, str(runs_dir), str(logs_dir / f"{token}__seed{s}.log"), threads,
                          resumable[s]) for s in todo]
                results = _parallel_results(tasks, n_proc) if n_proc > 1 else (_run_one(*t) for t in tasks)
                for r in results:
                    seed = r["seed"]
                    meta["runs"][token][str(seed)] = _relative(path, Path(r["path"])) if r["path"] else None
                    if r["status"] == "complete":
                        complete[token][seed] = read_json(Path(r["path"]) / RUN_FILE)
                        log(f"[study] {token} seed {seed} done: test AUC {r['auc']:.4f} ({r['seconds']:.0f} s)")
                    else:
                        failed.append(f"{token} seed {seed}: {r['error']}")
                        log(f"[study] {token} seed {seed} FAILED after {r['seconds']:.0f} s: {r['error']} "
                            f"(log: {logs_dir / f'{token}__seed{seed}.log'})")
                    flush()
            update_summary()
    except BaseException as exc:
        meta.update(status="failed", error=f"interrupted: {type(exc).__name__}: {exc}")
        flush()
        raise
    finally:
        _DATA_CACHE.clear()
    if failed:
        meta.update(status="failed", error=f"{len(failed)} run(s) failed; resume to redo them: " + "; ".join(failed))
    else:
        meta.update(status="complete", error=None)
    meta["finished"] = now()
    flush()
    log(f"[study] {meta['status']}: {sum(len(v) for v in complete.values())}/{len(tokens) * len(seed_list)} runs "
        f"complete")
    return path


def resume_study(path: str | Path, jobs: int | None = None, log: Log = print) -> Path:
    """Finish the study in ``path`` with its own configuration, variants and seeds (``--resume``)."""
    study = load_study(path)
    return run_study(study.base_config(), study.variants, study.seeds, study.path.parent, jobs=jobs, log=log,
                     resume_dir=study.path, transfer_from=study.meta.get("transfer_from"))


# ------------------------------------------------------------------------------------------------ reading

def study_summary(path: str | Path) -> dict:
    """The JSON summary of a study (``python -m aim show STUDY_DIR --json``)."""
    study = load_study(path)
    statuses = study.run_statuses()
    flat = [s for by_seed in statuses.values() for s in by_seed.values()]
    current = study.current_summary()
    rows = _records(current) if current is not None else []
    return {
        "kind": "study",
        "id": study.id,
        "path": str(study.path),
        "status": study.status,
        "error": study.meta.get("error"),
        "dataset": study.meta["dataset"],
        "variants": study.variants,
        "seeds": study.seeds,
        "best_baseline": best_baseline(current) if current is not None else study.best_baseline,
        "transfer_from": study.meta.get("transfer_from"),
        "summary": rows,
        "runs": {"complete": flat.count("complete"), "total": len(flat), "missing": study.missing,
                 "by_variant": {v: {str(s): st for s, st in by_seed.items()} for v, by_seed in statuses.items()}},
        "created": study.meta["created"],
        "updated": study.meta.get("updated"),
    }


def format_study(summary: Mapping) -> str:
    """The human-readable form of ``study_summary`` (``python -m aim show STUDY_DIR``)."""
    runs = summary["runs"]
    lines = [f"{summary['id']}  [{summary['status']}]  {summary['dataset']}: {len(summary['variants'])} variants × "
             f"{len(summary['seeds'])} seeds, {runs['complete']}/{runs['total']} runs complete"]
    if summary.get("error"):
        lines.append(f"error: {summary['error']}")
    if runs.get("missing"):
        lines.append(f"missing run folders: {', '.join(runs['missing'])}")
    lines.append(f"best baseline: {summary['best_baseline'] or '-'}")
    if summary["summary"]:
        df = pd.DataFrame(summary["summary"])
        for c in df.columns.drop(["variant", "significant"], errors="ignore"):
            df[c] = pd.to_numeric(df[c], errors="coerce")
        lines.append(to_markdown(df))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- exports

def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _pm(mean: Any, std: Any, pm: str) -> str:
    mean, std = _num(mean), _num(std)
    if math.isnan(mean):
        return "--"
    return f"{mean:.4f}" if math.isnan(std) else f"{mean:.4f}{pm}{std:.4f}"


def _mark(p: Any, mean: Any, ref: float, higher_better: bool) -> int:
    """+1 significantly better than the best baseline, -1 significantly worse, 0 otherwise."""
    p, mean = _num(p), _num(mean)
    if math.isnan(p) or p >= SIGNIFICANCE or math.isnan(mean) or math.isnan(ref) or mean == ref:
        return 0
    return 1 if (mean > ref) == higher_better else -1


def _table_cells(df: pd.DataFrame, latex: bool) -> tuple[list[str], list[list[str]], list[bool]]:
    pm = " $\\pm$ " if latex else " ± "
    marks = {1: "$^{*}$" if latex else "\\*", -1: "$^{\\dagger}$" if latex else "†", 0: ""}
    bold = (lambda s: f"\\textbf{{{s}}}") if latex else (lambda s: f"**{s}**")
    pct = "\\%" if latex else "%"
    fi_cols = [c for c in df.columns if c.startswith(FI_PREFIX)]
    header = (["Model", "$n$" if latex else "n", "AUC", "Log loss", "Params", "Params after EDS"]
              + [f"FI ratio (order {c[len(FI_PREFIX):]})" for c in fi_cols] + ["Train s/epoch", "Infer s/100k"])
    best = best_baseline(df) if len(df) else None
    ref = df.set_index("variant") if len(df) else None
    ref_auc = _num(ref.loc[best, "auc_mean"]) if best else math.nan
    ref_ll = _num(ref.loc[best, "logloss_mean"]) if best else math.nan
    aucs = [round(v, 4) for v in map(_num, df["auc_mean"]) if not math.isnan(v)]
    lls = [round(v, 4) for v in map(_num, df["logloss_mean"]) if not math.isnan(v)]
    top_auc, top_ll = (max(aucs) if aucs else None), (min(lls) if lls else None)

    def params(x: Any) -> str:
        v = _num(x)
        if math.isnan(v):
            return "--"
        s = f"{int(round(v)):,}"
        return s.replace(",", "{,}") if latex else s

    def fixed(x: Any, digits: int) -> str:
        v = _num(x)
        return "--" if math.isnan(v) else f"{v:.{digits}f}"

    rows, is_baseline = [], []
    for _, r in df.iterrows():
        auc = _pm(r["auc_mean"], r["auc_std"], pm)
        ll = _pm(r["logloss_mean"], r["logloss_std"], pm)
        if top_auc is not None and not math.isnan(_num(r["auc_mean"])) and round(_num(r["auc_mean"]), 4) == top_auc:
            auc = bold(auc)
        if top_ll is not None and not math.isnan(_num(r["logloss_mean"])) and round(_num(r["logloss_mean"]), 4) == top_ll:
            ll = bold(ll)
        auc += marks[_mark(r["p_auc"], r["auc_mean"], ref_auc, True)]
        ll += marks[_mark(r["p_logloss"], r["logloss_mean"], ref_ll, False)]
        name = str(r["variant"])
        if latex:
            name = name.replace("\\", "\\textbackslash{}").replace("_", "\\_").replace("&", "\\&").replace("%", "\\%")
        fi = [("--" if math.isnan(_num(r[c])) else f"{_num(r[c]) * 100:.1f}{pct}") for c in fi_cols]
        rows.append([name, str(int(_num(r["n"]))) if not math.isnan(_num(r["n"])) else "0", auc, ll,
                     params(r["params_before_eds"]), params(r["params_after_eds"]), *fi,
                     fixed(r["train_epoch_seconds"], 2), fixed(r["infer_seconds_per_100k"], 3)])
        is_baseline.append(name in BASELINES)
    return header, rows, is_baseline


def _note(df: pd.DataFrame) -> str:
    best = best_baseline(df) if len(df) else None
    return (f"mean ± sample std (ddof=1) over seeds; * / †: p < {SIGNIFICANCE} better / worse than the best baseline "
            f"({best or 'none'}), two-tailed unpaired t-test (equal variances)")


def to_latex(df: pd.DataFrame) -> str:
    """A booktabs tabular of a summary: mean ± std with 4 decimals, the best AUC and log loss in bold, ``*`` a
    significant improvement and a dagger a significant degradation vs the best baseline (p < 0.005)."""
    header, rows, is_baseline = _table_cells(df, latex=True)
    lines = [f"% {_note(df)}".replace("±", "+-").replace("†", "dagger"),
             "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}", "\\toprule", " & ".join(header) + " \\\\",
             "\\midrule"]
    for i, row in enumerate(rows):
        if i > 0 and is_baseline[i - 1] and not is_baseline[i]:
            lines.append("\\midrule")
        lines.append(" & ".join(row) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of a summary (same content as ``to_latex``), with a note below."""
    header, rows, _ = _table_cells(df, latex=False)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + f"\n\n{_note(df)}\n"


def to_csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n")


def format_table(df: pd.DataFrame, fmt: str) -> str:
    """``python -m aim table STUDY_DIR --format csv|latex|markdown``."""
    if fmt not in TABLE_FORMATS:
        raise ConfigError(f"format {fmt!r} is not valid; choose one of: {', '.join(TABLE_FORMATS)}")
    return {"csv": to_csv, "latex": to_latex, "markdown": to_markdown}[fmt](df)


def study_table(path: str | Path, fmt: str = "markdown") -> str:
    """The summary table of the study in ``path`` in ``fmt`` (refuses a study that has no summary yet)."""
    study = load_study(path)
    summary = study.current_summary()
    if summary is None:
        raise RunFormatError(study.path / SUMMARY_FILE, "file is missing: the study has no summary yet")
    return format_table(summary, fmt)
