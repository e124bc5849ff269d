"""Shared fixtures: a tiny synthetic config and one real run per variant (aim, fm), produced once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The tiny configuration every real run in the tests uses (a few seconds on 2 cores), as CLI flags. One GRDA c per
# stage and one embedding L2, given explicitly: one candidate per stage (tests/test_sparsity.py covers the default
# mode that tries several strengths and L2 values on validation).
TINY_ARGS = [
    "--synthetic-rows", "2000", "--synthetic-fields", "5", "--synthetic-noise-fields", "1",
    "--synthetic-planted-pairs", "2", "--search-epochs", "1", "--embed-epochs", "1", "--epochs", "1",
    "--mlp", "8", "--embed-dim", "4", "--batch-size", "256",
    "--grda-c", "0.12", "--high-order-grda-c", "0.05", "--embed-grda-c", "0.04", "--embed-l2", "0",
]
TINY_FIXED = {"grda_c": 0.12, "high_order_grda_c": 0.05, "embed_grda_c": 0.04}


def _tiny_config(variant: str = "aim"):
    from aim.config import ModelConfig, RunConfig, SearchConfig, SyntheticConfig, TrainConfig

    return RunConfig(
        variant=variant,
        synthetic=SyntheticConfig(rows=2000, fields=5, noise_fields=1, planted_pairs=2),
        search=SearchConfig(search_epochs=1, embed_epochs=1, **TINY_FIXED),
        train=TrainConfig(epochs=1, batch_size=256, embed_l2=0.0),
        model=ModelConfig(mlp=(8,), embed_dim=4),
    )


@dataclass
class CLIResult:
    """What ``python -m aim ...`` did: exit status, stdout, stderr."""

    rc: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.strip()]


def off_init(model):
    """``model`` with every parameter drawn from U(-1, 1) and every BatchNorm's running statistics moved off their
    init, as after training (fast paths that fold them must then still agree with the layers run as is)."""
    import torch

    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-1, 1)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.2, 3)
    return model


def cli_env() -> dict[str, str]:
    # One thread per subprocess: the tests run several at once on 2 cores.
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="session")
def _runs_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def _aim_cli_proc(_runs_root):
    """``python -m aim run --variant aim *TINY_ARGS --threads 1`` started in the background (a subprocess from the
    repo root, as a user runs it), so the in-process fm run and other subprocesses overlap with it."""
    proc = subprocess.Popen([sys.executable, "-m", "aim", "run", "--variant", "aim", *TINY_ARGS, "--threads", "1",
                             "--out", str(_runs_root / "aim")], cwd=ROOT, env=cli_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


@pytest.fixture(scope="session")
def _fm_run(_runs_root, _aim_cli_proc) -> Path:
    from aim.pipeline import execute

    return execute(_tiny_config("fm"), _runs_root / "fm", log=lambda msg: None)


@pytest.fixture(scope="session")
def _tiny_session(_aim_cli_proc, _fm_run) -> tuple[dict[str, Path], CLIResult]:
    stdout, stderr = _aim_cli_proc.communicate(timeout=300)
    result = CLIResult(_aim_cli_proc.returncode, stdout, stderr)
    assert result.rc == 0 and result.lines, f"python -m aim run failed ({result.rc}):\n{stderr}"
    return {"aim": Path(result.lines[-1]), "fm": _fm_run}, result


@pytest.fixture(scope="session")
def tiny_runs(_tiny_session) -> dict[str, Path]:
    """The pipeline run once per variant on the tiny config: ``{"aim": folder, "fm": folder}``; aim through the
    CLI, fm in process, concurrently. Read-only: copy a folder before damaging it."""
    return _tiny_session[0]


@pytest.fixture(scope="session")
def tiny_cli_run(_tiny_session) -> CLIResult:
    """What ``python -m aim run --variant aim *TINY_ARGS`` printed while producing ``tiny_runs["aim"]``."""
    return _tiny_session[1]


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(variant)``: the ``RunConfig`` equal to ``python -m aim run --variant VARIANT *TINY_ARGS``."""
    return _tiny_config


@pytest.fixture(scope="session")
def tiny_args() -> list[str]:
    return list(TINY_ARGS)
