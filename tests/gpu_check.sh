#!/usr/bin/env bash
# The GPU checks, in one script for a borrowed CUDA machine (CI has no GPU). From the repo root:
#   bash tests/gpu_check.sh [OUT_DIR]
# 1. tests marked `cuda` (bf16 autocast vs CPU fp32, device moves, resume with CUDA RNG state);
# 2. the paper-shape benchmark: one Charades-CG training epoch of MMN+VDI on synthetic features;
# 3. the mini profile end to end on the GPU: Table 6's ViT-Joint MMN and VDI rows, 1 seed.
# Packages the machine lacks (open_clip, spaCy and its model...) go into .whl/ as wheels for its
# Python; the script unpacks them onto PYTHONPATH.
set -uo pipefail
OUT=${1:-${OUT:-/tmp/gpu_check}}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if compgen -G ".whl/*.whl" >/dev/null; then
  mkdir -p /tmp/site
  for w in .whl/*.whl; do python3 -m zipfile -e "$w" /tmp/site || exit 1; done
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" || exit 1
status=0
python3 -m pytest -q -p no:cacheprovider -m cuda -rs tests/test_cuda.py 2>&1 | tee "$OUT/cuda_tests.log" | tail -15 || status=1
timeout 180 python3 -m pytest -q -p no:cacheprovider tests/bench/test_bench_grounding.py -m bench -k cuda -s \
  --benchmark-enable 2>&1 | tee "$OUT/bench_cuda.log" | grep -E "epoch|passed|failed|Error" || status=1
export VDI_RESULTS="$OUT/results" VDI_CACHE=/tmp/vdi_cache VDI_TABLES="$OUT/tables"
timeout 280 python3 -m vdi_core.cli run table6 --profile mini --device cuda --seeds 1 \
  --rows mmn_vit_joint,vdi_vit_joint,fixed_prior 2>&1 | grep -vE "epoch [0-9]+/[0-9]+$|step [0-9]+/" \
  | tee "$OUT/mini_cuda.log" | tail -25 || status=1
exit $status
