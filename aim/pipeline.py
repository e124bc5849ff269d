"""One run end to end: data -> stages (search interaction-IF -> search embed -> re-train) -> run folder.

Every stage's outcome is written to the run folder as soon as it exists, so the app can show a running search
and a failed run keeps what it had learned. The status stays ``running`` until the last file is written.

Each finished stage (search, search3, search4, embed, retrain; train for a baseline) is also checkpointed in
``RUN_DIR/checkpoints/``: its result and the random states as they were when it ended. ``resume`` (``python -m aim
run --resume RUN_DIR``) restores the finished stages and runs the others, so a killed or failed run ends exactly
where an uninterrupted run with the same seed would (same machine and thread count: bit-identical).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import aim
from aim import classic, distributed, variants
from aim.config import RunConfig
from aim.context import Log, SplitTensors
from aim.data.base import CTRData
from aim.errors import AIMError, ConfigError, RunFormatError
from aim.run_tables import field_table, run_warnings, summarise, timings
from aim.runs import CHECKPOINTS_DIR, columns, load_run, now
from aim.runwriter import RunWriter
from aim.selection import plan_retrain
from aim.stages import FAMILIES, StageRunner
from aim.train import Tensors

OPENMP_WAIT = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")  # how the run's threads waited (aim/__init__.py), in run.json


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


def execute(cfg: RunConfig, out_root: str | Path, log: Log = print, data: CTRData | None = None) -> Path:
    """Run ``cfg`` and write its run folder under ``out_root``; return the folder (status complete or failed)."""
    generator = _seed(cfg)
    t0 = time.perf_counter()
    data = data if data is not None else distributed.local_first(lambda: load_data(cfg))
    log(f"data {data.name}: {len(data.train)} train / {len(data.valid)} valid / {len(data.test)} test rows, "
        f"{len(data.fields)} fields, load {time.perf_counter() - t0:.2f}s")
    # Under torchrun only rank 0 writes the run (aim.distributed); the others hold a writer that writes nothing.
    # A retrain run's selection and parent are checked against the data before anything is written.
    retrain_meta = plan_retrain(cfg, data.field_names).meta() if variants.get(cfg.variant).family == "selection" else {}
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
    runner = StageRunner(writer, cfg, generator, log)
    try:
        _execute(cfg, data, runner, generator)
    except BaseException as exc:
        try:
            writer.finish("failed", error=distributed.failure_message(exc), stage=runner.current)
        except AIMError as again:  # e.g. the disk is full: the run stays "running", which readers see is dead
            writer.release()
            log(f"could not mark the run failed: {again}")
        raise
    shutil.rmtree(writer.path / CHECKPOINTS_DIR, ignore_errors=True)  # complete: nothing left to resume
    return writer.path


def _execute(cfg: RunConfig, data: CTRData, runner: StageRunner, generator: torch.Generator) -> None:
    """The variant family's stages (``aim.stages.FAMILIES``), then what every run writes: the frontier of the
    candidates tried, warnings, the field and history tables, the weights and the summary."""
    # A memory-mapped train split (data.storage=mmap) is read in shuffled blocks; valid/test are only predicted.
    tensors = SplitTensors(Tensors.of(data.train, cfg.data.shuffle_block), Tensors.of(data.valid),
                           Tensors.of(data.test))
    ctx = runner.context(cfg, data.vocab_sizes, tensors, generator)
    out = FAMILIES[variants.get(cfg.variant).family](ctx, data, runner)
    final, writer, stages, log = out.final, runner.writer, runner.stages, runner.log
    stages[final.fit.history[0]["stage"]] |= {"embed_l2": final.embed_l2, "start": final.start}
    frontier = [row for r in out.searches for row in r.frontier] + (out.embed.frontier if out.embed else [])
    runner.save_table("sparsity", pd.DataFrame(frontier + final.frontier, columns=columns("sparsity")))
    warnings = [*out.notes, *run_warnings(data, out.searches, out.positions, stages)]
    for w in warnings:
        log(f"warning: {w}")
    writer.update(warnings=warnings)
    runner.current = "finish"
    runner.save_table("fields", field_table(data, cfg.model.embed_dim, out.positions))
    runner.save_table("history", pd.DataFrame(runner.history).reindex(columns=columns("history")))
    if isinstance(final, classic.Classic) and final.model_text:  # gbdt: LightGBM's text model, no tensors
        writer.model_text(final.model_text)
    else:
        writer.weights(final.tensors if isinstance(final, classic.Classic) else final.model.state_dict())
    writer.update(model=final.spec, stages=stages, timings=timings(final, tensors, cfg.train, out.seconds),
                  **summarise(data, out.searches, final, out.positions, out.chosen))
    writer.progress(stage="done", epoch=None, valid_auc=final.metrics["valid"]["auc"])
    writer.finish("complete")
    log(f"test AUC {final.metrics['test']['auc']:.4f} log loss {final.metrics['test']['logloss']:.4f}")
