#!/usr/bin/env bash
# The GPU check (issue 16, item 4), as one script for a machine with a CUDA device and the image's python3
# (torch, pandas, scikit-learn, joblib, pytest; the app's plotly/streamlit are not needed):
#   1. tests/test_cuda.py: every model, fast path and optimiser on the GPU equals the CPU; whole runs train there;
#   2. bench_selected.py --device cuda: the re-trained AIM model each shipped seed-0 run selected vs DeepFM,
#      in fp32 and in mixed precision (train.precision bf16);
#   3. bench_pipeline.py --device cuda: the default aim pipeline vs one deepfm run on the quick start's data.
# Each part has its own time cap so that the log of the earlier parts survives a slow later one.
#   bash bench/gpu_check.sh [LOG_DIR]        (LOG_DIR defaults to bench/out/gpu)
set -u
cd "$(dirname "$0")/.."
log_dir=${1:-bench/out/gpu}
mkdir -p "$log_dir"
export PYTHONUNBUFFERED=1 PYTHONPATH=.
py=${PYTHON:-python3}
{
  date -u +"# gpu_check %Y-%m-%dT%H:%M:%SZ"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  $py -c "import torch, os; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cores', os.cpu_count())"
} 2>&1 | tee "$log_dir/env.txt"

timeout "${TESTS_S:-120}" $py -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$log_dir/test_cuda.txt"

runs=$(for d in synthetic frappe movielens avazu criteo; do ls -d cached_runs/"$d"__aim__seed0__*; done)
# shellcheck disable=SC2086
timeout "${SELECTED_S:-150}" $py bench/bench_selected.py $runs --device cuda --repeats 3 --steps 100 --precision fp32,bf16 \
  2>&1 | tee "$log_dir/bench_selected.txt"

timeout "${PIPELINE_S:-200}" $py bench/bench_pipeline.py --device cuda 2>&1 | tee "$log_dir/bench_pipeline.txt"
