"""OpenMP waits passively unless told otherwise (issue 29: spinning threads collapsed training beside another busy
process; bench/bench_busy.py measures it), set before torch loads OpenMP and recorded in every run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = "import aim, os, torch; print(os.environ.get('OMP_WAIT_POLICY'))"


def _probe(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    return subprocess.run([sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_aim_makes_openmp_wait_passively_by_default():
    assert _probe() == "PASSIVE"


def test_an_explicit_policy_is_respected():
    assert _probe(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"
    assert _probe(OMP_WAIT_POLICY="") == ""


def test_a_run_records_its_wait_policy(tiny_runs):
    meta = json.loads((next(iter(tiny_runs.values())) / "run.json").read_text())
    assert meta["omp_wait_policy"] == os.environ.get("OMP_WAIT_POLICY")
