"""AIM Explorer: Automatic Interaction Machine (FIS + IFS + EDS) for CTR prediction.

The package never imports Streamlit; everything the app shows comes from run folders written here.
"""

import os

# Torch's OpenMP threads (GNU libgomp in the Linux wheels) spin up to 300,000 times while they wait for work. Beside
# another busy process that spinning holds a core the other needs and each parallel region waits for a thread that
# was descheduled: a run training on 2 threads beside one CPU-bound process took 21x its idle time; fully passive
# waiting fixes that but costs 60% idle. A short spin of 3,000 keeps both within 2.2x of the fastest (issue 29;
# bench/bench_busy.py, docs/benchmarks.md). It must be set before torch loads OpenMP, so here, before any aim module
# imports torch; an explicit GOMP_SPINCOUNT or OMP_WAIT_POLICY (even empty) is respected, and child processes
# (loky workers, app jobs) inherit it. Results are unchanged: only how threads wait differs.
if "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "3000"

__version__ = "0.1.0"
