"""One run end to end: data -> stages (search interaction-IF -> search embed -> re-train) -> run folder.

Every stage's outcome is written to the run folder as soon as it exists, so the app can show a running search
and a failed run keeps what it had learned. The status stays ``running`` until the last file is written.

Each finished stage (search, search3, search4, embed, retrain; train for a baseline) is also checkpointed in
``RUN_DIR/checkpoints/``: its result and the random states as they were when it ended. ``resume`` (``python -m aim
run --resume RUN_DIR``) restores the finished stages and runs the others, so a killed or failed run ends exactly
where an uninterrupted run with the same seed would (same machine and thread count: bit-identical).
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import aim
from aim import classic, distributed, variants
from aim.config import FUNCTIONS, RETRAIN, RunConfig, TrainConfig
from aim.data.base import CTRData
from aim.errors import AIMError, ConfigError, RunFormatError
from aim.model import zoo
from aim.model.nets import AIM, AIMSpec
from aim.runs import CHECKPOINTS_DIR, RunWriter, check_inside, load_run, now, read_checkpoint, write_checkpoint
from aim.search import (
    EmbedSearch,
    InteractionSearch,
    SplitTensors,
    Trained,
    candidate_pool,
    final_positions,
    progress_line,
    retrain,
    search_embed,
    search_order,
    train_baseline,
    used_fields,
)
from aim.selection import interaction_counts, plan_retrain
from aim.sparsity import Schedule
from aim.stats_auc import stats_auc
from aim.train import FitResult, Tensors, predict

CHECKPOINT_VERSION = 2
OPENMP_WAIT = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")  # how the run's threads waited (aim/__init__.py), in run.json
Log = Callable[[str], None]


def load_data(cfg: RunConfig) -> CTRData:
    if cfg.dataset == "synthetic":
        from aim.data.synthetic import generate

        return generate(cfg.synthetic, split_seed=cfg.data.split_seed)
    from aim.data.registry import load_dataset

    return load_dataset(cfg.dataset, cfg.data_path, cfg.data)


def run_id(cfg: RunConfig) -> str:
    """Sortable, self-describing: ``{dataset}__{variant}__seed{seed}__{UTC timestamp}``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    variant = cfg.variant + ("-se" if cfg.model.embedding == "se" and variants.get(cfg.variant).shared_embedding else "")
    return f"{cfg.dataset}__{variant}__seed{cfg.seed}__{stamp}"


def versions() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"aim": aim.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "git_commit": commit}


def planted_scores(kept: set[tuple[int, ...]], planted: set[tuple[int, ...]]) -> dict:
    """Precision and recall of the kept interactions against the planted ones."""
    hits = len(kept & planted)
    return {"precision": hits / len(kept) if kept else 0.0, "recall": hits / len(planted) if planted else 1.0,
            "kept": len(kept), "planted": len(planted), "hits": hits}


def interaction_table(data: CTRData, searches: list[InteractionSearch], pairs: list[tuple[int, ...]],
                      log: Log, chosen: tuple = (), reference: dict[tuple[int, ...], float] | None = None,
                      ) -> pd.DataFrame:
    """One row per (interaction, function) column of every searched order, with α, kept flags, statistics AUC
    and planted truth. A re-train of a selection lists its ``chosen`` column blocks, kept and without a gate; a
    baseline (no search) lists every pair with the inner product and no gate. ``reference`` (pair -> score of
    ``aim.reference``) adds the column ``ref_score``: the pair's score on order-2 rows, NaN on the others."""
    if chosen:
        fields = tuple(f for b in chosen for f in b[0])
        funcs = tuple(k for b in chosen for k in b[1])
        alpha, kept = np.full(len(fields), np.nan), np.ones(len(fields), dtype=bool)
    elif searches:
        fields = tuple(f for r in searches for f in r.columns[0])
        funcs = tuple(k for r in searches for k in r.columns[1])
        alpha = np.concatenate([r.alpha for r in searches])
        kept = np.concatenate([r.kept for r in searches])
    else:
        fields, funcs = tuple(pairs), (0,) * len(pairs)
        alpha, kept = np.full(len(pairs), np.nan), np.ones(len(pairs), dtype=bool)
    unique = sorted(set(fields))
    if distributed.is_main():
        start = time.perf_counter()
        aucs = stats_auc(data.train.X, data.train.y, data.test.X, data.test.y, unique, data.vocab_sizes)
        log(f"statistics AUC of {len(unique)} interactions in {time.perf_counter() - start:.2f}s")
    else:  # under torchrun only rank 0 writes the table (aim.distributed): the others skip the data pass
        aucs = [float("nan")] * len(unique)
    auc_of = dict(zip(unique, aucs))
    interaction_kept = {f: False for f in unique}
    for f, k in zip(fields, kept):
        interaction_kept[f] |= bool(k)
    planted = set(data.truth.interactions) if data.truth else None
    names = data.field_names
    ref = {} if reference is None else {"ref_score": [reference.get(f, math.nan) if len(f) == 2 else math.nan
                                                      for f in fields]}
    return pd.DataFrame({
        "column": np.arange(len(fields)),
        "order": [len(f) for f in fields],
        "fields": [" ".join(map(str, f)) for f in fields],
        "field_names": [" × ".join(names[i] for i in f) for f in fields],
        "function": [FUNCTIONS[k] for k in funcs],
        "alpha": alpha,
        "kept": kept.astype(int),
        "interaction_kept": [int(interaction_kept[f]) for f in fields],
        "stats_auc": [auc_of[f] for f in fields],
        "planted": [(int(f in planted) if planted is not None else "") for f in fields],
        **ref,
    })


def reference_ranking(cfg: RunConfig, data: CTRData, pairs: list[tuple[int, ...]], log: Log,
                      ) -> tuple[dict[tuple[int, ...], float] | None, dict | None]:
    """The independent pair ranking of ``aim.reference`` on the training split (``search.reference``), and what
    ``run.json`` records of it; (None, None) when it is off or on a non-writing rank. The global random states
    (torch, numpy) are put back as they were, so the rest of the run is the same with or without it."""
    if cfg.search.reference == "none" or not distributed.is_main():
        return None, None
    from aim import reference

    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    start = time.perf_counter()
    try:
        scores = reference.reference_scores(data.train.X, data.train.y, pairs, method=cfg.search.reference,
                                            seed=cfg.seed, threads=torch.get_num_threads())
    finally:
        torch.set_rng_state(torch_state)
        np.random.set_state(numpy_state)
    seconds = time.perf_counter() - start
    rows = min(len(data.train.y), reference.SAMPLE_CAP)
    log(f"reference ranking ({cfg.search.reference}) of {len(pairs)} pairs on {rows:,} training rows in {seconds:.2f}s")
    meta = reference.method(cfg.search.reference) | {"rows": rows, "seed": cfg.seed, "seconds": round(seconds, 3)}
    return dict(zip(pairs, (float(s) for s in scores))), meta


def transfer_columns(path: str, data: CTRData) -> list:
    """The kept interaction-IF columns of an AIM run, per order, for the *-transfer variants (paper §4.6)."""
    from aim.errors import ConfigError
    from aim.runs import load_run

    run = load_run(path)
    names = [f["name"] for f in run.meta["dataset"]["fields"]]
    if names != data.field_names:
        raise ConfigError(f"transfer_from {path}: its fields {names} differ from this dataset's {data.field_names}")
    inter = run.interactions
    if inter is None or inter["alpha"].isna().all():
        raise ConfigError(f"transfer_from {path}: not an AIM run with searched interactions")
    kept = inter[inter["kept"] == 1]
    blocks = []
    for _, rows in kept.groupby("order"):
        cols = sorted(zip((tuple(int(i) for i in f.split()) for f in rows["fields"]),
                          (FUNCTIONS.index(k) for k in rows["function"])), key=lambda c: (c[1], c[0]))
        blocks.append((tuple(c[0] for c in cols), tuple(c[1] for c in cols)))
    return blocks


def field_table(data: CTRData, dim: int, positions: tuple[tuple[int, ...], ...] | None) -> pd.DataFrame:
    pos = positions if positions is not None else tuple(tuple(range(dim)) for _ in data.fields)
    return pd.DataFrame({
        "field": np.arange(len(data.fields)),
        "name": data.field_names,
        "vocab_size": data.vocab_sizes,
        "dims_kept": [len(p) for p in pos],
        "positions": [" ".join(map(str, p)) for p in pos],
    })


def snapshot_table(searches: list[InteractionSearch]) -> pd.DataFrame:
    """α of every column during each order's search, long format; ``column`` indexes interactions.csv."""
    rows, offset = [], 0
    for r in searches:
        stage = r.fit.history[0]["stage"] if r.fit.history else "search"
        rows += [(stage, epoch, step, offset + c, float(a))
                 for epoch, step, alpha in r.fit.snapshots for c, a in enumerate(alpha)]
        offset += len(r.alpha)
    return pd.DataFrame(rows, columns=["stage", "epoch", "step", "column", "alpha"])


def _stage_meta(fitres, metrics: dict, seconds: float) -> dict:
    # Distributed runs: each rank's sha256 of the stage's final gates and weights (all equal, see aim.distributed).
    digests = {"sha256_by_rank": fitres.digests} if fitres.digests else {}
    start = {} if fitres.start_auc is None else {"start_valid_auc": fitres.start_auc}  # a warm start's AUC
    return {"metrics": metrics, "epochs": len(fitres.history), "best_epoch": fitres.best_epoch, **start,
            "seconds": round(seconds, 3), **digests}


def execute(cfg: RunConfig, out_root: str | Path, log: Log = print, data: CTRData | None = None) -> Path:
    """Run ``cfg`` and write its run folder under ``out_root``; return the folder (status complete or failed)."""
    generator = _seed(cfg)
    t0 = time.perf_counter()
    data = data if data is not None else distributed.local_first(lambda: load_data(cfg))
    log(f"data {data.name}: {len(data.train)} train / {len(data.valid)} valid / {len(data.test)} test rows, "
        f"{len(data.fields)} fields, load {time.perf_counter() - t0:.2f}s")
    # Under torchrun only rank 0 writes the run (aim.distributed); the others hold a writer that writes nothing.
    # A retrain run's selection and parent are checked against the data before anything is written.
    retrain_meta = plan_retrain(cfg, data.field_names).meta() if cfg.variant == RETRAIN else {}
    writer = RunWriter(Path(out_root), run_id(cfg)) if distributed.is_main() else distributed.FollowerWriter()
    try:
        writer.start({"config": cfg.to_json(), "versions": versions(), "seed": cfg.seed, "variant": cfg.variant,
                      "dataset": data.summary(), "tables": [], "threads": torch.get_num_threads(),
                      "openmp": {k: os.environ.get(k) for k in OPENMP_WAIT}, **retrain_meta,
                      **distributed.describe(cfg.train.device)})
    except BaseException:
        writer.release()
        raise
    return _run(cfg, data, writer, generator, log)


def resume(run_dir: str | Path, log: Log = print) -> Path:
    """Continue the run in ``run_dir`` (killed, cancelled or failed) from its last finished stage, with its own
    config; a complete run is left as it is. Refused while another process writes the run, and when the data no
    longer match the ones it started with."""
    writer = RunWriter.reopen(run_dir)
    try:
        run = load_run(writer.path)
        if run.meta["status"] == "complete":
            log(f"{writer.path} is already complete: nothing to resume")
            writer.release()
            return writer.path
        try:
            cfg = RunConfig.from_json(run.meta["config"])
        except ConfigError as exc:
            raise RunFormatError(writer.path / "run.json", f"its config cannot be used: {exc}") from None
        generator = _seed(cfg)
        data = load_data(cfg)
        _check_same_data(writer.path, run.meta["dataset"], data)
        done = sorted(p.stem for p in (writer.path / CHECKPOINTS_DIR).glob("*.pt"))
        log(f"resuming {writer.path.name}: finished stages {', '.join(done) or 'none'}")
        for key in ("finished", "failed_stage", "interrupted"):
            writer.meta.pop(key, None)
        resumed = [*writer.meta.get("resumed", []), {"at": now(), "checkpoints": done, "versions": versions(),
                                                    "threads": torch.get_num_threads()}]
        writer.update(status="running", error=None, resumed=resumed)
    except BaseException:
        writer.release()
        raise
    return _run(cfg, data, writer, generator, log)


def _seed(cfg: RunConfig) -> torch.Generator:
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    return torch.Generator().manual_seed(cfg.seed)


def _check_same_data(path: Path, before: dict, data: CTRData) -> None:
    now_ = data.summary()
    same = (before.get("fields") == now_["fields"] and before.get("rows") == now_["rows"]
            and (before.get("source") or {}).get("content_sha256") == now_["source"].get("content_sha256"))
    if not same:
        raise RunFormatError(path, "its data changed since the run started (fields, rows or file contents differ); "
                                   "it cannot be resumed: start a new run")


def _run(cfg: RunConfig, data: CTRData, writer: RunWriter, generator: torch.Generator, log: Log) -> Path:
    stage = {"name": "start"}
    try:
        _execute(cfg, data, writer, generator, log, stage)
    except BaseException as exc:
        try:
            writer.finish("failed", error=distributed.failure_message(exc), stage=stage["name"])
        except AIMError as again:  # e.g. the disk is full: the run stays "running", which readers see is dead
            writer.release()
            log(f"could not mark the run failed: {again}")
        raise
    shutil.rmtree(writer.path / CHECKPOINTS_DIR, ignore_errors=True)  # complete: nothing left to resume
    return writer.path


# ----------------------------------------------------------------------------------------- checkpoints


class Checkpoints:
    """``RUN_DIR/checkpoints/<stage>.pt``: a finished stage's result and the random states (torch, the batch-order
    generator, numpy) as they were when it ended. Tensors and plain values only, loaded with ``weights_only=True``;
    written atomically, so a kill leaves the previous stages' files intact."""

    def __init__(self, run_dir: Path, cfg: RunConfig, generator: torch.Generator):
        self.run_dir = run_dir
        self.folder = run_dir / CHECKPOINTS_DIR
        self.cfg = cfg.to_json()
        self.generator = generator

    def save(self, stage: str, state: dict) -> None:
        self.folder.mkdir(exist_ok=True)
        name, keys, pos, has_gauss, cached = np.random.get_state()
        rng = {"torch": torch.get_rng_state(), "generator": self.generator.get_state(),
               "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)]}
        write_checkpoint(self.folder / f"{stage}.pt", {"version": CHECKPOINT_VERSION, "stage": stage,
                                                       "config": self.cfg, "state": state, "rng": rng})

    def restore(self, stage: str, rebuild: Callable[[dict], Any]) -> Any | None:
        """``rebuild(state)`` of the stage's checkpoint, then the random states it recorded; None if there is none."""
        path = self.folder / f"{stage}.pt"
        check_inside(self.run_dir, path)
        if not path.exists():
            return None
        payload = read_checkpoint(path)
        if payload.get("version") != CHECKPOINT_VERSION or payload.get("config") != self.cfg:
            raise RunFormatError(path, "written by another version or for another config; delete it to redo "
                                       "the stage")
        try:
            result = rebuild(payload["state"])  # builds modules: consumes random numbers, restored next
            rng = payload["rng"]
            torch.set_rng_state(rng["torch"])
            self.generator.set_state(rng["generator"])
            name, keys, pos, has_gauss, cached = rng["numpy"]
            np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            raise RunFormatError(path, f"checkpoint does not match this version ({type(exc).__name__}: {exc}); "
                                       "delete it to redo the stage") from None
        return result


def _fit_state(fit: FitResult) -> dict:
    snaps = [torch.from_numpy(np.asarray(a)) for _, _, a in fit.snapshots]
    return {"history": fit.history, "best_epoch": fit.best_epoch, "start_auc": fit.start_auc,
            "snapshots": [(int(e), int(s)) for e, s, _ in fit.snapshots],
            "snapshot_values": torch.stack(snaps) if snaps else torch.zeros(0)}


def _fit_of(state: dict) -> FitResult:
    values = state["snapshot_values"]
    snaps = [(e, s, values[i].numpy().copy()) for i, (e, s) in enumerate(state["snapshots"])]
    return FitResult(history=list(state["history"]), snapshots=snaps, best_epoch=state["best_epoch"],
                     start_auc=state.get("start_auc"))


def _search_state(r: InteractionSearch, seconds: float) -> dict:
    return {"fields": [list(f) for f in r.columns[0]], "funcs": list(r.columns[1]),
            "alpha": torch.from_numpy(r.alpha.copy()), "fit": _fit_state(r.fit), "metrics": r.metrics,
            "spec": r.model.spec.to_json(), "model": r.model.state_dict(), "seconds": seconds,
            "schedule": r.schedule.to_json() if r.schedule else None, "frontier": r.frontier}


def _schedule_of(state: dict) -> Schedule | None:
    return Schedule(**state["schedule"]) if state.get("schedule") else None


def _search_of(state: dict, with_model: bool) -> tuple[InteractionSearch, float]:
    model = None
    if with_model:  # the next order's search starts from this model's embeddings
        model = AIM(AIMSpec.from_json(state["spec"]))
        model.load_state_dict(state["model"])
    columns = (tuple(tuple(f) for f in state["fields"]), tuple(state["funcs"]))
    result = InteractionSearch(columns, state["alpha"].numpy().copy(), _fit_of(state["fit"]), model, state["metrics"],
                               _schedule_of(state), list(state["frontier"]))
    return result, state["seconds"]


def _embed_state(e: EmbedSearch, seconds: float) -> dict:
    return {"beta": torch.from_numpy(e.beta.copy()), "fit": _fit_state(e.fit), "metrics": e.metrics,
            "seconds": seconds, "dual": None if e.dual is None else torch.from_numpy(e.dual.copy()),
            "schedule": e.schedule.to_json() if e.schedule else None, "frontier": e.frontier}


def _embed_of(state: dict) -> tuple[EmbedSearch, float]:
    dual = None if state["dual"] is None else state["dual"].numpy().copy()
    embed = EmbedSearch(state["beta"].numpy().copy(), _fit_of(state["fit"]), state["metrics"], dual,
                        _schedule_of(state), list(state["frontier"]))
    return embed, state["seconds"]


def _final_state(t: Trained, seconds: float) -> dict:
    return {"spec": t.spec, "model": t.model.state_dict(), "fit": _fit_state(t.fit), "metrics": t.metrics,
            "params": t.params, "params_before_eds": t.params_before_eds, "seconds": seconds,
            "embed_l2": t.embed_l2, "start": t.start, "frontier": t.frontier}


def rebuild_model(spec: dict) -> torch.nn.Module:
    """The network described by a run's ``model`` entry (``run.json``), ready for ``load_state_dict``; lr / gbdt
    runs hold no network: ``aim.classic.load_model`` reloads them."""
    if spec["kind"] == "aim":  # every search variant's and every re-train's final model
        return AIM(AIMSpec.from_json(spec["spec"]))
    if variants.get(spec["kind"]).classic:
        raise ValueError(f"a {spec['kind']} run holds no network: aim.classic.load_model(RUN_DIR) reloads it")
    return zoo.build(spec["kind"], spec["args"])


def _final_of(state: dict) -> tuple[Trained, float]:
    model = rebuild_model(state["spec"])
    model.load_state_dict(state["model"])
    trained = Trained(model, state["spec"], _fit_of(state["fit"]), state["metrics"], state["params"],
                      state["params_before_eds"], state["embed_l2"], state.get("start", "scratch"),
                      list(state["frontier"]))
    return trained, state["seconds"]


# ------------------------------------------------------------------------------------------------ stages


def _execute(cfg: RunConfig, data: CTRData, writer: RunWriter, generator: torch.Generator, log: Log,
             stage: dict) -> None:
    # A memory-mapped train split (data.storage=mmap) is read in shuffled blocks; valid/test are only predicted.
    tensors = SplitTensors(Tensors.of(data.train, cfg.data.shuffle_block), Tensors.of(data.valid),
                           Tensors.of(data.test))
    vocab = data.vocab_sizes
    history: list[dict] = []
    tables: list[str] = []
    ckpt = Checkpoints(writer.path, cfg, generator)

    def on_epoch(row: dict) -> None:
        replayed = row.pop("replayed", False)  # a chosen candidate's epochs: its worker printed them already
        history.append(row)
        if not replayed:
            gates = f" gates {row['gates_nonzero']}/{row['gates_total']}" if "gates_nonzero" in row else ""
            log(f"[{row['stage']}] epoch {row['epoch']} loss {row['train_loss']:.4f} "
                f"valid AUC {row['valid_auc']:.4f}{gates} ({row['seconds']:.1f}s)")
        writer.progress(stage=row["stage"], epoch=row["epoch"], valid_auc=row["valid_auc"],
                        gates_left=row.get("gates_nonzero"), gates_total=row.get("gates_total"))

    def on_progress(p: dict) -> None:
        log(f"[{p['stage']}] {progress_line(p)}")
        writer.progress(stage=p["stage"], epoch=p["epoch"], step=p["step"], steps=p["steps"],
                        rows_per_s=round(p["rows_per_s"]), eta_s=round(p["eta_s"], 1))

    def run_stage(name: str, compute: Callable[[], Any], state_of: Callable[[Any, float], dict],
                  rebuild: Callable[[dict], tuple[Any, float]], replay: bool = False) -> tuple[Any, float]:
        """The stage's result and seconds: restored from its checkpoint, or computed and checkpointed. A ``replay``
        (a parent's stage a re-train replays) is checkpointed as ``replay_<stage>`` and kept out of this run's
        history."""
        label, key = (f"replay {name}", f"replay_{name}") if replay else (name, name)
        stage["name"] = label
        restored = ckpt.restore(key, rebuild)
        if restored is not None:
            if not replay:
                history.extend(restored[0].fit.history)
            log(f"[{label}] finished before the interruption: restored from its checkpoint")
            return restored
        start = time.perf_counter()
        result = compute()
        seconds = time.perf_counter() - start
        ckpt.save(key, state_of(result, seconds))
        return result, seconds

    def save_table(name: str, df: pd.DataFrame) -> None:
        writer.table(name, df)
        if name not in tables:
            tables.append(name)
        writer.update(tables=tables)

    stages = writer.meta["stages"]
    searches: list[InteractionSearch] = []
    positions = None
    embed: EmbedSearch | None = None
    pairs = [(i, j) for i in range(len(vocab)) for j in range(i + 1, len(vocab))]
    chosen: tuple = ()
    notes: tuple[str, ...] = ()
    family = variants.get(cfg.variant).family
    if family == "retrain":
        plan = plan_retrain(cfg, data.field_names)
        chosen, positions, notes = plan.blocks, plan.positions, plan.warnings

        def on_replay_epoch(row: dict) -> None:
            replay = {**row, "stage": f"replay {row['stage']}"}
            if not replay.pop("replayed", False):
                log(f"[{replay['stage']}] epoch {row['epoch']} valid AUC {row['valid_auc']:.4f}")
            writer.progress(stage=replay["stage"], epoch=row["epoch"], valid_auc=row["valid_auc"])

        def on_replay_progress(p: dict) -> None:
            on_progress({**p, "stage": f"replay {p['stage']}"})

        parent_dir = Path(plan.parent["path"]) if plan.parent else None
        searched, procedure, replayed_positions = replay_parent(cfg, plan.parent_config, vocab, tensors, generator,
                                                                functools.partial(run_stage, replay=True),
                                                                on_replay_epoch, log,
                                                                on_replay_progress, parent_dir)
        if procedure.get("same_kept_columns") is False:
            notes = (*notes, "the replayed parent search kept other columns than the parent's (thread count "
                             f"{procedure['threads']} here, {procedure['parent_threads']} for the parent): this "
                             "re-train started close to, not exactly as, the parent's final model")
        if replayed_positions is not None and cfg.retrain_dims == "parent" and not replayed_positions:
            positions = None  # the parent's variant has no EDS stage: its final model had full tables
        final, seconds = run_stage("retrain", lambda: retrain(cfg, vocab, chosen, positions, tensors, generator,
                                                              on_epoch, log, on_progress, searched),
                                   _final_state, _final_of)
        stages["retrain"] = _stage_meta(final.fit, final.metrics, seconds)
        writer.update(procedure=procedure | {"start": final.start,
                                             "starts_tried": sorted({r["start"] for r in final.frontier})})
        stage["name"] = "tables"
        save_table("interactions", interaction_table(data, [], pairs, log, chosen))
    elif family == "network":
        transfer = transfer_columns(cfg.transfer_from, data) if cfg.transfer_from else []
        final, seconds = run_stage("train", lambda: train_baseline(cfg, vocab, tensors, generator, on_epoch, transfer,
                                                                   log, on_progress), _final_state, _final_of)
        stages["train"] = _stage_meta(final.fit, final.metrics, seconds)
        stage["name"] = "tables"
        save_table("interactions", interaction_table(data, [], pairs, log))
    elif family == "classic":  # lr / gbdt: scikit-learn / LightGBM on the same ids and splits
        if distributed.world() > 1:
            raise ConfigError(f"variant {cfg.variant} trains in one process: start it without torchrun")

        def on_classic(row: dict) -> None:
            writer.progress(stage=row["stage"], epoch=row["epoch"], valid_auc=row["valid_auc"])

        final, seconds = run_stage("train", lambda: classic.train(cfg, data, on_classic, log), classic.state_of,
                                   classic.of_state)
        history[:] = final.fit.history  # restored or computed: its rows once
        stages["train"] = _stage_meta(final.fit, final.metrics, seconds) | final.stage_info
        positions = tuple(((0,) if final.kind == "lr" else ()) for _ in data.fields)  # lr: one weight per id
        stage["name"] = "tables"
        save_table("interactions", interaction_table(data, [], pairs, log))
    else:
        searches = _search_orders(cfg, vocab, tensors, generator, on_epoch, run_stage, log, on_progress)
        for r in searches:
            name = r.fit.history[0]["stage"]
            seconds = sum(row["seconds"] for row in r.fit.history)
            stages[name] = _stage_meta(r.fit, r.metrics, seconds) | {"pool": len(set(r.columns[0])),
                                                                     "grda": _grda_meta(r.schedule)}
            log(f"[{name}] kept {int(r.kept.sum())}/{len(r.alpha)} interaction-IF columns, "
                f"{len({f for f, k in zip(r.columns[0], r.kept) if k})}/{len(set(r.columns[0]))} interactions")
        stage["name"] = "tables"
        ranking, ranking_meta = reference_ranking(cfg, data, pairs, log)
        if ranking_meta is not None:
            writer.update(reference=ranking_meta)
        save_table("interactions", interaction_table(data, searches, pairs, log, reference=ranking))
        save_table("snapshots", snapshot_table(searches))
        blocks = [r.kept_columns() for r in searches if r.kept.any()]
        if variants.get(cfg.variant).eds and blocks:
            embed, seconds = run_stage("embed", lambda: search_embed(cfg, vocab, blocks, tensors, generator, on_epoch,
                                                                     log, on_progress, searches[-1].model),
                                       _embed_state, _embed_of)
            stages["embed"] = _stage_meta(embed.fit, embed.metrics, seconds) | {"grda": _grda_meta(embed.schedule)}
            positions = final_positions(cfg, embed, blocks)
            log("embedding sizes kept: " + ", ".join(f"{n}={len(p)}" for n, p in zip(data.field_names, positions)))
        searched = searches[-1].model if searches else None
        if searched is not None and cfg.search.retrain_start != "scratch" and distributed.is_main():
            save_search_start(writer.path, cfg, generator, searched, positions is not None)  # for its what-ifs
        final, seconds = run_stage("retrain", lambda: retrain(cfg, vocab, blocks, positions, tensors, generator,
                                                              on_epoch, log, on_progress, searched),
                                   _final_state, _final_of)
        stages["retrain"] = _stage_meta(final.fit, final.metrics, seconds)
    stages[final.fit.history[0]["stage"]] |= {"embed_l2": final.embed_l2, "start": final.start}
    frontier = [row for r in searches for row in r.frontier] + (embed.frontier if embed is not None else [])
    save_table("sparsity", pd.DataFrame(frontier + final.frontier, columns=SPARSITY_COLUMNS))
    warnings = [*notes, *run_warnings(data, searches, positions, stages)]
    for w in warnings:
        log(f"warning: {w}")
    writer.update(warnings=warnings)
    stage["name"] = "finish"
    save_table("fields", field_table(data, cfg.model.embed_dim, positions))
    save_table("history", pd.DataFrame(history).reindex(columns=[
        "stage", "epoch", "step", "train_loss", "valid_auc", "valid_logloss", "seconds", "gates_nonzero",
        "gates_total", "grda_lr"]))
    if isinstance(final, classic.Classic) and final.kind == "gbdt":
        writer.model_text(final.model_text)
    else:
        writer.weights(final.tensors if isinstance(final, classic.Classic) else final.model.state_dict())
    writer.update(model=final.spec, stages=stages, timings=timings(final, tensors, cfg.train, seconds),
                  **summarise(data, searches, final, positions, chosen))
    writer.progress(stage="done", epoch=None, valid_auc=final.metrics["valid"]["auc"])
    writer.finish("complete")
    log(f"test AUC {final.metrics['test']['auc']:.4f} log loss {final.metrics['test']['logloss']:.4f}")


SPARSITY_COLUMNS = ["stage", "candidate", "cross", "c", "crossing_step", "steps", "embed_l2", "start", "columns_kept",
                    "interactions_kept", "dims_kept", "size", "valid_auc", "valid_logloss", "epochs", "seconds",
                    "chosen"]


def _grda_meta(sched: Schedule | None) -> dict | None:
    return sched.to_json() if sched is not None else None


def run_warnings(data: CTRData, searches: list[InteractionSearch], positions: tuple[tuple[int, ...], ...] | None,
                 stages: dict) -> list[str]:
    """What a reader of the run must not miss: a search that kept nothing, a field that a kept interaction reads
    but EDS left without any dimension (its interactions are gone from the final model), and a final model that
    scores below the search-stage model on validation."""
    out = []
    if searches and not any(r.kept.any() for r in searches):
        out.append(f"the search kept no interaction: on {len(data.valid.y):,} validation rows no GRDA strength that "
                   "keeps columns beat the sparsest by more than the parsimony tolerance, so the final model is the "
                   "first-order part and the MLP (DeepFM without its FM part); more rows usually let interactions "
                   "through")
    if positions is not None:
        blocks = [r.kept_columns() for r in searches if r.kept.any()]
        lost = [data.field_names[i] for i in sorted(used_fields(blocks)) if not positions[i]]
        if lost:
            out.append(f"EDS removed every embedding dimension of {', '.join(lost)}, read by kept interactions: "
                       "those interactions are not in the final model (search.eds_floor >= 1 prevents it)")
    final = stages.get("retrain", {}).get("metrics", {}).get("valid", {}).get("auc")
    search = stages.get("search", {}).get("metrics", {}).get("valid", {}).get("auc")
    if final is not None and search is not None and final < search:
        out.append(f"the final model's validation AUC {final:.4f} is below the search-stage model's {search:.4f}")
    return out


def _searches(variant: Any) -> bool:
    """Whether ``variant`` (a parent run's, maybe of a newer or foreign version) searches: its final model may start
    from a search model."""
    known = variants.REGISTRY.get(variant) if isinstance(variant, str) else None
    return known is not None and known.searches


def replay_parent(cfg: RunConfig, parent_config: dict | None, vocab: list[int], tensors: SplitTensors,
                  generator: torch.Generator, run_stage: Callable, on_epoch: Callable[[dict], None],
                  log: Log, on_progress: Callable[[dict], None] | None = None, parent_dir: Path | None = None
                  ) -> tuple[AIM | None, dict, tuple | None]:
    """What a re-train of a selection starts from, as its parent's final model did: the parent's search model.

    The parent's search stages (and stage B, the embed search, when the parent ran it) are replayed with the parent's config and this run's seed (the parent's unless ``--seed`` says otherwise),
    from the same random states the parent's began with. The search model is then the parent's, and the random
    states are where the parent's re-train stage began: with the parent's own kept columns this run reproduces the
    parent (same machine and thread count: bit-identical). Returns (the search model or None, the run.json
    ``procedure``, the replayed positions: () when the parent's variant has no embed stage, None when nothing was
    replayed). Nothing is replayed when ``search.retrain_start`` is scratch, there is no parent, or the parent did
    not search (a baseline or a re-train: its final model started from scratch).

    A parent written by this version keeps its search start (``search_start.pt``: the search model and the random
    states its re-train stage began with): with the parent's seed it is read instead of replaying (same result).
    A replay with the parent's seed checks that it kept the parent's columns (``same_kept_columns``): float sums
    differ with the thread count, so a replay on another thread count may drift from the parent's search."""
    why = ("search.retrain_start is scratch" if cfg.search.retrain_start == "scratch" else
           "no parent run (--from)" if parent_config is None else
           f"the parent's variant {parent_config.get('variant')} has no search stage"
           if not _searches(parent_config.get("variant")) else "")
    if why:
        log(f"re-train from scratch only: {why}")
        return None, {"replayed": [], "why": why}, None
    parent = RunConfig.from_json(parent_config).replace(seed=cfg.seed)
    if parent_dir is not None and cfg.seed == parent_config.get("seed"):
        t0 = time.perf_counter()
        stored = load_search_start(parent_dir, RunConfig.from_json(parent_config), generator, log)
        if stored is not None:
            searched, positions = stored
            seconds = time.perf_counter() - t0
            log(f"read the parent's search start ({SEARCH_START_FILE}) in {seconds:.1f} s: no replay needed")
            return searched, {"replayed": [], "read": SEARCH_START_FILE, "seed": parent.seed,
                              "parent_variant": parent.variant, "seconds": round(seconds, 3)}, positions
    log(f"replaying the parent's search ({parent.variant}, seed {parent.seed}) to rebuild its start: the search "
        "model its final model could start from")
    spent: list[float] = []  # each stage's seconds, as computed or as recorded by its checkpoint (a resume)

    def timed_stage(*args: Any) -> tuple[Any, float]:
        result, seconds = run_stage(*args)
        spent.append(seconds)
        return result, seconds

    searches = _search_orders(parent, vocab, tensors, generator, on_epoch, timed_stage, on_progress=on_progress)
    replayed = [r.fit.history[0]["stage"] if r.fit.history else "search" for r in searches]
    blocks = [r.kept_columns() for r in searches if r.kept.any()]
    positions: tuple = ()
    if variants.get(parent.variant).eds and blocks:
        embed, _ = timed_stage("embed", lambda: search_embed(parent, vocab, blocks, tensors, generator, on_epoch,
                                                             None, on_progress, searches[-1].model),
                               _embed_state, _embed_of)
        positions = final_positions(parent, embed, blocks)
        replayed.append("embed")
    seconds = sum(spent)
    log(f"replaying the parent's search to rebuild its start: {seconds:.1f} s ({', '.join(replayed)})")
    searched = searches[-1].model if searches else None
    procedure = {"replayed": replayed, "seed": parent.seed, "parent_variant": parent.variant,
                 "seconds": round(seconds, 3)}
    if parent_dir is not None and cfg.seed == parent_config.get("seed"):
        procedure |= _same_search(parent_dir, searches, log)
    return searched, procedure, positions


def _same_search(parent_dir: Path, searches: list[InteractionSearch], log: Log) -> dict:
    """Whether a replay with the parent's seed kept the parent's columns (interactions.csv), and the thread counts."""
    try:
        run = load_run(parent_dir)
    except AIMError:
        return {}
    inter, threads = run.interactions, run.meta.get("threads")
    if inter is None:
        return {}
    theirs = {(str(f), str(k)) for f, k, kept in zip(inter["fields"], inter["function"], inter["kept"]) if kept == 1}
    ours = {(" ".join(map(str, f)), FUNCTIONS[k]) for r in searches
            for f, k, a in zip(r.columns[0], r.columns[1], r.alpha) if a != 0}
    same = theirs == ours
    if not same:
        log(f"warning: the replayed search kept {len(ours ^ theirs)} column(s) other than the parent's "
            f"({torch.get_num_threads()} thread(s) here, {threads} for the parent: float sums differ with the "
            "thread count), so the start is close to, not exactly, the parent's")
    return {"same_kept_columns": same, "threads": torch.get_num_threads(), "parent_threads": threads}


SEARCH_START_FILE = "search_start.pt"


def save_search_start(run_dir: Path, cfg: RunConfig, generator: torch.Generator, searched: AIM,
                      embed: bool) -> None:
    """``RUN_DIR/search_start.pt``: the search model the re-train stage may start from and the random states it
    begins with (as a stage checkpoint, with the run's config): a re-train of a selection of this run reads it
    instead of replaying the search (``replay_parent``)."""
    start = Checkpoints(run_dir, cfg, generator)
    start.folder = run_dir
    start.save(SEARCH_START_FILE.removesuffix(".pt"), {"spec": searched.spec.to_json(), "model": searched.state_dict(),
                                                       "embed": embed})


def load_search_start(parent_dir: Path, parent: RunConfig, generator: torch.Generator,
                      log: Log) -> tuple[AIM, tuple] | None:
    """The parent's search model and, as a side effect, the random states of its re-train stage's start, from its
    ``search_start.pt``; None (and a log line) when it has none or it cannot be used."""
    if not (parent_dir / SEARCH_START_FILE).is_file():
        return None
    start = Checkpoints(parent_dir, parent, generator)
    start.folder = parent_dir

    def rebuild(state: dict) -> tuple[AIM, tuple]:
        model = AIM(AIMSpec.from_json(state["spec"]))
        model.load_state_dict(state["model"])
        return model, (None if state["embed"] else ())

    try:
        return start.restore(SEARCH_START_FILE.removesuffix(".pt"), rebuild)
    except (AIMError, OSError) as exc:
        log(f"cannot use the parent's {SEARCH_START_FILE} ({exc}): replaying its search instead")
        return None


def _search_orders(cfg: RunConfig, vocab: list[int], tensors: SplitTensors, generator: torch.Generator,
                   on_epoch: Callable[[dict], None], run_stage: Callable, log: Log | None = None,
                   on_progress: Callable[[dict], None] | None = None) -> list[InteractionSearch]:
    """Stage A over orders 2..max_order, as ``search.search_interactions`` (paper §3.2, Algorithm 1: each order's
    pool from the order below's surviving interactions; stop when a pool is empty), each order a stage of its
    own so that it is checkpointed when it ends."""
    n = len(vocab)
    k = cfg.search.top_k or n // 2
    results: list[InteractionSearch] = []
    for order in range(2, cfg.max_order + 1):
        if order == 2:
            candidates, fixed, previous = list(itertools.combinations(range(n), 2)), [], None
        else:
            prev = results[-1]
            candidates = candidate_pool(prev.columns[0], prev.alpha, n, k)
            if not candidates:
                break
            fixed, previous = [r.kept_columns() for r in results if r.kept.any()], prev.model
        name = "search" if order == 2 else f"search{order}"
        compute = functools.partial(search_order, cfg, vocab, tensors, generator, candidates, fixed, name, on_epoch,
                                    previous=previous, log=log, on_progress=on_progress)
        result, _ = run_stage(name, compute, _search_state,
                              functools.partial(_search_of, with_model=True))
        results.append(result)
    return results


def timings(final: Trained | classic.Classic, data: SplitTensors, train: TrainConfig, seconds: float) -> dict:
    """Training seconds of the final model: per epoch, and in all (``train_seconds``: the final stage's wall
    seconds, its hyper-parameter choice included; lr / gbdt have no epochs, so their ``train_epoch_seconds`` is
    that total), and inference seconds per 100,000 rows (same for all variants: predicting the test split, in
    inference mode in the run's precision for the networks, best of 3)."""
    if isinstance(final, classic.Classic):
        model, X = final.predictor(), data.test.X.numpy()
        best = min(_timed(lambda: model.predict(X)) for _ in range(3))
        per_epoch = seconds
    else:
        batch = train.eval_batch_size
        best = min(_timed(lambda: predict(final.model, data.test.X, batch, train.precision)) for _ in range(3))
        per_epoch = float(np.mean([row["seconds"] for row in final.fit.history]))
    return {"train_epoch_seconds": per_epoch, "train_seconds": float(seconds),
            "infer_seconds_per_100k": best / len(data.test.y) * 1e5}


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summarise(data: CTRData, searches: list[InteractionSearch], final: Trained | classic.Classic,
              positions: tuple[tuple[int, ...], ...] | None, chosen: tuple = ()) -> dict:
    """The headline figures of a run (what ``python -m aim show`` prints and the Runs table lists); ``chosen``:
    the column blocks of a retrain run."""
    n = len(data.fields)
    interactions: dict[str, dict] = {}
    kept_all: set[tuple[int, ...]] = set()
    for r in searches:
        p = len(r.columns[0][0])
        kept = {f for f, k in zip(r.columns[0], r.kept) if k}
        kept_all |= kept
        interactions[f"order{p}"] = {"kept": len(kept), "total": math.comb(n, p), "pool": len(set(r.columns[0])),
                                     "columns_kept": int(r.kept.sum()), "columns_total": int(len(r.alpha)),
                                     "fi_ratio": len(kept) / math.comb(n, p)}
    given = chosen or final.spec.get("args", {}).get("columns")
    if given:  # a retrain or a *-transfer baseline: the interaction-IF columns it was given, per order
        interactions |= interaction_counts(given, n)
    elif not searches:
        total = math.comb(n, 2)
        interactions["order2"] = {"kept": total, "total": total, "pool": total, "columns_kept": total,
                                  "columns_total": total, "fi_ratio": 1.0}
    planted = None
    if data.truth is not None and searches:
        orders = {len(r.columns[0][0]) for r in searches}
        truth = {t for t in data.truth.interactions if len(t) in orders}
        planted = planted_scores(kept_all, truth)
        planted["by_order"] = {f"order{p}": planted_scores({t for t in kept_all if len(t) == p},
                                                           {t for t in truth if len(t) == p}) for p in sorted(orders)}
        if positions is not None:
            noise = data.truth.noise_fields
            planted["noise_dims_kept"] = int(sum(len(positions[i]) for i in noise))
            planted["signal_dims_kept"] = int(sum(len(p) for i, p in enumerate(positions) if i not in noise))
    return {
        "metrics": {split: final.metrics[split] for split in ("valid", "test")},
        "interactions": interactions,
        "params": {"before_eds": final.params_before_eds, "after_eds": final.params["total"],
                   "embedding": final.params["embedding"]},
        "planted": planted,
        "finished_at": now(),
    }
