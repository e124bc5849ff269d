"""The study kinds: each a module that runs one (``variants``: the paper's ablation tables; ``fis-vs-stats``: the
§4.4.2 test of the gates' selection) and resumes it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aim.errors import ConfigError, RunFormatError
from aim.study import fis_vs_stats, variants
from aim.study.folder import STUDY_FILE, Study, load_study
from aim.study.tokens import Log

KINDS: dict[str, Callable[[Study, int | None, Log], Path]] = {variants.KIND: variants.resume,
                                                              fis_vs_stats.KIND: fis_vs_stats.resume}


def resume_study(path: str | Path, jobs: int | None = None, log: Log = print, add: str = "") -> Path:
    """Finish the study in ``path`` with its own settings (``--resume``), whatever its kind. ``add`` (a variants
    study only): variant tokens whose rows join the study, over its seeds and with its configuration; every run it
    has is reused."""
    study = load_study(path)
    if study.kind not in KINDS:
        raise RunFormatError(study.path / STUDY_FILE, f"study_kind {study.kind!r} is not one of {', '.join(KINDS)}")
    if add:
        if study.kind != variants.KIND:
            raise ConfigError(f"--add-variants: {study.path} is a {study.kind} study; only a variants study has rows "
                              "to add")
        return variants.run_study(study.base_config(), add, study.seeds, study.path.parent, jobs=jobs, log=log,
                                  resume_dir=study.path, transfer_from=study.meta.get("transfer_from"))
    return KINDS[study.kind](study, jobs, log)
