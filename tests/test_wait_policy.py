"""OpenMP's threads spin only briefly while they wait (issue 29: spinning threads collapsed a 2-thread run beside
another busy process to 21x its idle time; bench/bench_busy.py measures it), set before torch loads OpenMP and
recorded in every run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = "import aim, os, torch; print(repr(os.environ.get('GOMP_SPINCOUNT')), repr(os.environ.get('OMP_WAIT_POLICY')))"


def _probe(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    return subprocess.run([sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_aim_makes_openmp_spin_briefly_by_default():
    assert _probe() == "'3000' None"


def test_an_explicit_setting_is_respected():
    assert _probe(GOMP_SPINCOUNT="300000") == "'300000' None"
    assert _probe(OMP_WAIT_POLICY="PASSIVE") == "None 'PASSIVE'"
    assert _probe(OMP_WAIT_POLICY="") == "None ''"


def test_a_run_records_how_its_threads_waited(tiny_runs):
    meta = json.loads((next(iter(tiny_runs.values())) / "run.json").read_text())
    assert meta["openmp"] == {k: os.environ.get(k) for k in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
