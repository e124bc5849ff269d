"""Stage checkpoints: ``RUN_DIR/checkpoints/<stage>.pt`` holds a finished stage's result and the random states as
they were when it ended, so a killed run resumes with exactly the result of an uninterrupted one; the codecs below
turn each stage's typed result into tensors and plain values and back. ``RUN_DIR/search_start.pt`` (the same
format) keeps the search model a re-train may start from, for the run's what-ifs. Nothing here is pickled:
files are read with ``weights_only=True``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aim import variants
from aim.config import RunConfig
from aim.context import Log
from aim.errors import AIMError, RunFormatError
from aim.fileio import read_checkpoint, write_checkpoint
from aim.model import zoo
from aim.model.nets import AIM, AIMSpec
from aim.runs import CHECKPOINTS_DIR, check_inside
from aim.search import EmbedSearch, InteractionSearch, Trained
from aim.sparsity import Schedule
from aim.train import FitResult

CHECKPOINT_VERSION = 2


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


def fit_state(fit: FitResult) -> dict:
    snaps = [torch.from_numpy(np.asarray(a)) for _, _, a in fit.snapshots]
    return {"history": fit.history, "best_epoch": fit.best_epoch, "start_auc": fit.start_auc,
            "snapshots": [(int(e), int(s)) for e, s, _ in fit.snapshots],
            "snapshot_values": torch.stack(snaps) if snaps else torch.zeros(0)}


def fit_of(state: dict) -> FitResult:
    values = state["snapshot_values"]
    snaps = [(e, s, values[i].numpy().copy()) for i, (e, s) in enumerate(state["snapshots"])]
    return FitResult(history=list(state["history"]), snapshots=snaps, best_epoch=state["best_epoch"],
                     start_auc=state.get("start_auc"))


def search_state(r: InteractionSearch, seconds: float) -> dict:
    return {"fields": [list(f) for f in r.columns[0]], "funcs": list(r.columns[1]),
            "alpha": torch.from_numpy(r.alpha.copy()), "fit": fit_state(r.fit), "metrics": r.metrics,
            "spec": r.model.spec.to_json(), "model": r.model.state_dict(), "seconds": seconds,
            "schedule": r.schedule.to_json() if r.schedule else None, "frontier": r.frontier}


def _schedule_of(state: dict) -> Schedule | None:
    return Schedule(**state["schedule"]) if state.get("schedule") else None


def search_of(state: dict, with_model: bool) -> tuple[InteractionSearch, float]:
    model = None
    if with_model:  # the next order's search starts from this model's embeddings
        model = AIM(AIMSpec.from_json(state["spec"]))
        model.load_state_dict(state["model"])
    columns = (tuple(tuple(f) for f in state["fields"]), tuple(state["funcs"]))
    result = InteractionSearch(columns, state["alpha"].numpy().copy(), fit_of(state["fit"]), model, state["metrics"],
                               _schedule_of(state), list(state["frontier"]))
    return result, state["seconds"]


def embed_state(e: EmbedSearch, seconds: float) -> dict:
    return {"beta": torch.from_numpy(e.beta.copy()), "fit": fit_state(e.fit), "metrics": e.metrics,
            "seconds": seconds, "dual": None if e.dual is None else torch.from_numpy(e.dual.copy()),
            "schedule": e.schedule.to_json() if e.schedule else None, "frontier": e.frontier}


def embed_of(state: dict) -> tuple[EmbedSearch, float]:
    dual = None if state["dual"] is None else state["dual"].numpy().copy()
    embed = EmbedSearch(state["beta"].numpy().copy(), fit_of(state["fit"]), state["metrics"], dual,
                        _schedule_of(state), list(state["frontier"]))
    return embed, state["seconds"]


def final_state(t: Trained, seconds: float) -> dict:
    return {"spec": t.spec, "model": t.model.state_dict(), "fit": fit_state(t.fit), "metrics": t.metrics,
            "params": t.params, "params_before_eds": t.params_before_eds, "seconds": seconds,
            "embed_l2": t.embed_l2, "start": t.start, "frontier": t.frontier}


def rebuild_model(spec: dict) -> torch.nn.Module:
    """The network described by a run's ``model`` entry (``run.json``), ready for ``load_state_dict``; lr / gbdt
    runs hold no network: ``aim.classic.load_model`` reloads them."""
    if "spec" in spec:  # kind "aim": every search variant's and every re-train's final model, an AIMSpec
        return AIM(AIMSpec.from_json(spec["spec"]))
    if variants.get(spec["kind"]).classic:
        raise ValueError(f"a {spec['kind']} run holds no network: aim.classic.load_model(RUN_DIR) reloads it")
    return zoo.build(spec["kind"], spec["args"])


def final_of(state: dict) -> tuple[Trained, float]:
    model = rebuild_model(state["spec"])
    model.load_state_dict(state["model"])
    trained = Trained(model, state["spec"], fit_of(state["fit"]), state["metrics"], state["params"],
                      state["params_before_eds"], state["embed_l2"], state.get("start", "scratch"),
                      list(state["frontier"]))
    return trained, state["seconds"]


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
