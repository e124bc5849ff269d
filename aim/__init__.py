"""AIM Explorer: Automatic Interaction Machine (FIS + IFS + EDS) for CTR prediction.

The package never imports Streamlit; everything the app shows comes from run folders written here.
"""

import os

# Torch's OpenMP threads spin while they wait for work by default. Beside another busy process on the same cores
# a spinning thread holds a core the other needs, and each parallel region waits for a thread that was
# descheduled: training slowed 3-10x (issue 29; bench/bench_busy.py). Passive waiting costs nothing measurable on
# an idle machine and leaves results bit-identical. It must be set before torch loads OpenMP, so here, before
# any aim module imports torch; an explicit OMP_WAIT_POLICY (even empty) is respected, and child processes
# (loky workers, app jobs) inherit it.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

__version__ = "0.1.0"
