"""``torchrun --nproc_per_node 2 -m aim run`` with gloo on CPU: the run completes and only rank 0 writes it, α and
β are bit-identical on both ranks, the selection equals a one-process run with the same global batch; a failure
on one rank fails the run with that rank's error. Plus the pieces: global batch norm, sharding, gathering."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, cli_env

from aim import distributed
from aim.config import ModelConfig, RunConfig, SearchConfig, SyntheticConfig, TrainConfig
from aim.errors import ConfigError
from aim.runs import load_run

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without distributed")

# 3,000 rows in global batches of 64 (2 × 32): 141 search steps, GRDA c tuned so that the search keeps some of the
# 40 columns and EDS some of the dimensions (a selection that a wrong gradient would change).
CONFIG = RunConfig(
    synthetic=SyntheticConfig(rows=3000, fields=5, noise_fields=1, planted_pairs=2),
    model=ModelConfig(mlp=(8,), embed_dim=4),
    search=SearchConfig(search_epochs=3, embed_epochs=1, grda_c=0.22, embed_grda_c=0.09),
    train=TrainConfig(epochs=1, batch_size=64, embed_l2=0.0),
)
ARGS = ["--synthetic-rows", "3000", "--synthetic-fields", "5", "--synthetic-noise-fields", "1",
        "--synthetic-planted-pairs", "2", "--mlp", "8", "--embed-dim", "4", "--search-epochs", "3", "--embed-epochs",
        "1", "--grda-c", "0.22", "--embed-grda-c", "0.09", "--epochs", "1", "--batch-size", "64", "--embed-l2", "0"]
FAIL_ON_RANK_1 = textwrap.dedent("""
    import os, sys
    import aim.search
    if os.environ["RANK"] == "1":
        def boom(*args, **kwargs):
            raise RuntimeError("injected failure on rank 1")
        aim.search.search_order = boom
    from aim.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def torchrun(*args: str) -> subprocess.Popen:
    env = {**cli_env(), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def launches(tmp_path_factory):
    """The two torchrun launches, started together; the one-process run is computed while they run."""
    tmp = tmp_path_factory.mktemp("ddp")
    (tmp / "fail.py").write_text(FAIL_ON_RANK_1)
    ok = torchrun("-m", "aim", "run", *ARGS, "--out", str(tmp / "two"))
    failing = torchrun(str(tmp / "fail.py"), "run", *ARGS, "--out", str(tmp / "fail"))
    from aim.pipeline import execute

    one = load_run(execute(CONFIG, tmp / "one", log=lambda _: None))
    results = {}
    for name, proc in (("ok", ok), ("fail", failing)):
        out, err = proc.communicate(timeout=300)
        results[name] = (proc.returncode, out, err)
    return tmp, one, results


def test_two_ranks_complete_with_identical_gates_and_the_one_process_selection(launches):
    tmp, one, results = launches
    rc, out, err = results["ok"]
    assert rc == 0, err[-3000:]
    runs = list((tmp / "two").iterdir())
    assert len(runs) == 1 and out.strip().splitlines()[-1] == str(runs[0])  # rank 0 alone wrote and printed
    two = load_run(runs[0])
    assert two.status == "complete"
    assert two.meta["distributed"] == {"world_size": 2, "backend": "gloo", "device": "cpu", "local_world_size": 2}
    for stage in ("search", "embed", "retrain"):  # every rank ended each stage with the same bits
        digests = two.meta["stages"][stage]["sha256_by_rank"]
        assert len(digests["weights"]) == 2 and len(set(digests["weights"])) == 1, stage
        assert len(set(digests["gates"])) == 1, stage
    # The selection equals the one-process run's: same kept columns and dimensions; α within 1e-5 (the two
    # sum the global batch in a different order; on this config they agree to the last bit).
    kept = one.interactions.kept.to_numpy()
    assert 0 < kept.sum() < len(kept)
    np.testing.assert_array_equal(two.interactions.kept.to_numpy(), kept)
    np.testing.assert_allclose(two.interactions.alpha.to_numpy(), one.interactions.alpha.to_numpy(), atol=1e-5)
    # Rank 0 alone computes the statistics AUC it writes: the same values as the one-process run's.
    np.testing.assert_array_equal(two.interactions.stats_auc.to_numpy(), one.interactions.stats_auc.to_numpy())
    assert two.fields.dims_kept.tolist() == one.fields.dims_kept.tolist() != [4] * 5
    for stage in ("search", "embed"):
        assert two.meta["stages"][stage]["metrics"]["valid"]["auc"] == pytest.approx(
            one.meta["stages"][stage]["metrics"]["valid"]["auc"], abs=1e-4)


def test_a_failure_on_one_rank_fails_the_run_with_its_error(launches):
    tmp, _, results = launches
    rc, _, err = results["fail"]
    assert rc != 0 and "Root Cause" in err
    (run_dir,) = list((tmp / "fail").iterdir())
    meta = json.loads((Path(run_dir) / "run.json").read_text())
    assert meta["status"] == "failed" and meta["failed_stage"] == "search"
    assert meta["error"] == "rank 1: RuntimeError: injected failure on rank 1"


def test_global_batch_norm_equals_batch_norm_on_one_rank(tmp_path):
    """With one rank the global statistics are the local ones: same output, running statistics and gradient."""
    x = torch.randn(7, 3, requires_grad=True)
    ref = torch.nn.BatchNorm1d(3, momentum=0.1)
    glob = torch.nn.BatchNorm1d(3, momentum=0.1)
    glob.__class__ = distributed.GlobalBatchNorm1d
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        for _ in range(2):
            out, want = glob(x), ref(x)
            torch.testing.assert_close(out, want)
            torch.testing.assert_close(torch.autograd.grad(out.pow(3).sum(), x)[0],
                                       torch.autograd.grad(want.pow(3).sum(), x)[0])
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            torch.testing.assert_close(getattr(glob, name), getattr(ref, name))
        glob.eval()
        ref.eval()
        torch.testing.assert_close(glob(x), ref(x))
    finally:
        torch.distributed.destroy_process_group()


def test_one_process_helpers_are_no_ops():
    assert distributed.world() == 1 and distributed.is_main() and distributed.describe("cpu") == {}
    assert distributed.share(10) == slice(0, 10) and distributed.digests([torch.ones(2)]) == []
    assert distributed.failure_message(ValueError("x")) == "ValueError: x"
    model = torch.nn.Linear(2, 1)
    with distributed.data_parallel(model, torch.device("cpu")) as net:
        assert net is model


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_is_refused_without_a_gpu():
    with pytest.raises(ConfigError, match="no CUDA device is visible"):
        distributed.resolve_device("cuda")
    with pytest.raises(ConfigError, match="device='gpu' is not valid"):
        TrainConfig(device="gpu")
