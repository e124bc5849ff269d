"""``--device cuda`` (``train.device``): every model, optimiser and fast path on a GPU gives what it gives on the CPU,
and a whole run trains there. Skipped without a CUDA device (CI has none); run on a GPU machine with
``python -m pytest tests/test_cuda.py``."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aim.config import TrainConfig
from aim.grda import GRDA
from aim.model.nets import AIM, FM, IPNN, AIMSpec, Dropout
from aim.search import candidate_columns
from aim.train import GateSchedule, Tensors, fit, predict
from tests.conftest import TINY_ARGS, off_init

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch")

ROOT = Path(__file__).resolve().parents[1]
VOCAB = (7, 11, 5, 13, 9)
FUNCS = ["inner", "vkernel", "skernel", "outer"]
POSITIONS = ((0, 1), (2, 3), (1,), (0, 1, 2, 3), (1, 2))


def _model(name: str) -> torch.nn.Module:
    """One network a run builds (``MODELS``): the search models (FWE and SE), the re-train model with each head over
    pruned tables, DeepFM and IPNN; MLPs without dropout so that a training step is deterministic."""
    columns = candidate_columns(5, FUNCS)
    kept = (tuple(columns[0][c] for c in range(0, 40, 3)), tuple(columns[1][c] for c in range(0, 40, 3)))
    if name.startswith("re-train "):
        head = name.removeprefix("re-train ")
        return off_init(AIM(AIMSpec(VOCAB, 4, False, (kept,), positions=POSITIONS, mlp=(16, 8), head=head)))
    build = {
        "search FWE": lambda: AIM(AIMSpec(VOCAB, 4, False, (columns,))),
        "search SE": lambda: AIM(AIMSpec(VOCAB, 4, True, (columns,))),
        "DeepFM": lambda: FM(list(VOCAB), 4, 1e-2, mlp=(16, 8), dropout=0.0),
        "IPNN": lambda: IPNN(list(VOCAB), 4, 1e-2, mlp=(16, 8), dropout=0.0),
    }
    return off_init(build[name]())


def _rows(n: int = 64) -> torch.Tensor:
    return torch.stack([torch.randint(0, v, (n,)) for v in VOCAB], 1)


@pytest.mark.parametrize("name", ["search FWE", "search SE", "DeepFM", "IPNN", "re-train embeddings",
                                  "re-train summed", "re-train products"])
def test_every_model_gives_the_same_logits_and_gradients_on_cuda_as_on_the_cpu(name):
    torch.manual_seed(0)
    cpu = _model(name)
    gpu = copy.deepcopy(cpu).cuda()
    x = _rows()
    for mode in ("train", "eval"):  # eval: the folded fast paths (MLP BN, gate totals, gathered tables)
        cpu.train(mode == "train"), gpu.train(mode == "train")
        out_cpu, out_gpu = cpu(x), gpu(x.cuda())
        torch.testing.assert_close(out_gpu.cpu(), out_cpu, rtol=1e-4, atol=1e-5, msg=f"{name}, {mode} logits")
        if mode == "train":
            out_cpu.square().mean().backward(), out_gpu.square().mean().backward()
            for (pname, p_cpu), p_gpu in zip(cpu.named_parameters(), gpu.parameters()):
                assert (p_cpu.grad is None) == (p_gpu.grad is None), pname
                if p_cpu.grad is not None:
                    torch.testing.assert_close(p_gpu.grad.cpu(), p_cpu.grad, rtol=1e-4, atol=1e-5,
                                               msg=f"{name}: gradient of {pname}")
    for (bname, b_cpu), b_gpu in zip(cpu.named_buffers(), gpu.buffers()):  # BN statistics after the train pass
        torch.testing.assert_close(b_gpu.cpu(), b_cpu, rtol=1e-4, atol=1e-5, msg=f"{name}: buffer {bname}")


@pytest.mark.parametrize("name", ["search FWE", "DeepFM", "re-train embeddings", "re-train products"])
def test_bf16_on_cuda_predicts_the_cpu_float32_probabilities_within_bfloat16_rounding(name):
    """``train.precision bf16`` on a GPU (autocast there: bfloat16 tensor-core products); the models are scaled
    down so that their logits stay where rounding shows in a probability (tests/test_precision.py on the CPU)."""
    torch.manual_seed(0)
    cpu = _model(name)
    with torch.no_grad():
        for p in cpu.parameters():
            p.mul_(0.3)
    gpu = copy.deepcopy(cpu).cuda()
    x = _rows(512)
    p32, p16 = predict(cpu, x, 128), predict(gpu, x, 128, "bf16")
    diff = abs(p16 - p32)
    assert diff.max() < 0.03 and diff.mean() < 0.006, (diff.max(), diff.mean())


def test_grda_steps_on_cuda_equal_the_cpu_steps():
    torch.manual_seed(0)
    p_cpu = torch.nn.Parameter(torch.full((50,), 0.6))
    p_gpu = torch.nn.Parameter(p_cpu.detach().cuda())
    opts = [GRDA([p_cpu], lr=0.05, c=1.8, mu=0.6), GRDA([p_gpu], lr=0.05, c=1.8, mu=0.6)]
    for _ in range(40):
        g = torch.randn(50) * 0.3
        p_cpu.grad, p_gpu.grad = g.clone(), g.cuda()
        for opt in opts:
            opt.step()
    torch.testing.assert_close(p_gpu.detach().cpu(), p_cpu.detach(), rtol=1e-5, atol=1e-6)
    cut = p_cpu.detach() == 0
    assert cut.any() and not cut.all() and ((p_gpu.detach() == 0).cpu() == cut).all()  # the same gates cut


def test_dropout_on_cuda_keeps_1_minus_p_of_the_entries_and_draws_its_mask_there():
    torch.manual_seed(0)
    h = (torch.rand(400, 500, device="cuda") + 0.5).requires_grad_(True)
    out = Dropout(0.3)(h)
    kept = out != 0
    assert out.device.type == "cuda"
    assert abs(kept.float().mean().item() - 0.7) < 0.005
    out.sum().backward()
    torch.testing.assert_close(h.grad, kept.float() / 0.7)


@pytest.mark.parametrize("embedding_optimizer", ["adam", "lazy_adam"])
def test_fit_on_cuda_trains_gates_and_tables_and_hands_the_model_back_on_the_cpu(embedding_optimizer):
    torch.manual_seed(0)
    X = _rows(3000)
    y = ((X[:, 0] + X[:, 1]) % 2).float()  # a pure interaction of fields 0 and 1
    model = AIM(AIMSpec(VOCAB, 4, False, (candidate_columns(5, FUNCS),), mlp=(16,)))
    gates = GateSchedule([g.alpha for g in model.gates], lr=0.05, c=2.0, mu=0.6, decay=1.0)
    config = TrainConfig(epochs=3, batch_size=128, lr=0.01, eval_batch_size=1000, patience=2, plateau_factor=1.0,
                         embedding_optimizer=embedding_optimizer, device="cuda")
    result = fit(model, Tensors(X[:2400], y[:2400]), Tensors(X[2400:], y[2400:]), config, stage="cuda",
                 generator=torch.Generator().manual_seed(0), gates=gates, early_stopping=True)
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(b.device.type == "cpu" for b in model.buffers())
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.history[-1]["valid_auc"] > 0.9, result.history  # it learned the interaction on the GPU
    assert result.history[-1]["gates_nonzero"] < result.history[-1]["gates_total"]  # GRDA cut gates there
    p = predict(model, X[2400:], 1000)
    assert p.shape == (600,) and ((p > 0) & (p < 1)).all()


@pytest.mark.parametrize("mode", ["fixed strengths", "default (candidates in worker processes)"])
def test_a_whole_run_on_cuda_completes_and_records_its_device(tmp_path, mode):
    args = TINY_ARGS if mode == "fixed strengths" else [a for a in TINY_ARGS[:TINY_ARGS.index("--grda-c")]]
    proc = subprocess.run([sys.executable, "-m", "aim", "run", *args, "--device", "cuda", "--threads", "2",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = Path(proc.stdout.strip().splitlines()[-1])
    meta = json.loads((folder / "run.json").read_text())
    assert meta["status"] == "complete"
    assert meta["config"]["train"]["device"] == "cuda"
    assert 0.5 < meta["metrics"]["test"]["auc"] <= 1.0
    state = torch.load(folder / "weights.pt", weights_only=True)  # no map_location: as saved
    assert all(t.device.type == "cpu" for t in state.values())  # runs load on machines without a GPU
