#!/usr/bin/env bash
# GPU device check (README: "GPU, mixed precision, compile"), one command on a fresh machine after
# `pip install -e ".[dev]"`: the HDR op on CUDA against the CPU, 3 + 20 joint-stage steps at paper width on
# 256 px in fp32 and bf16-mixed, without and with torch.compile (it/s, peak GPU memory, projected 70 k
# iterations), and `hdrsyn reconstruct` of a 12 MP photo. Prints one table and writes it as JSON
# (runs/device_check/device_check.json). Without an NVIDIA GPU it runs the same checks on the CPU at tiny
# width (under a minute on an idle 2-core machine) and says so.
#
#   bench/runners/device_check.sh [--out DIR] [--cpu]        # DEVICE_CHECK_LIMIT=600 seconds in all, PYTHON=python
set -uo pipefail
cd "$(dirname "$0")/../.."
limit="${DEVICE_CHECK_LIMIT:-600}"
python="${PYTHON:-python}"
out="runs/device_check"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --out) out="${args[i + 1]:-$out}" ;;
        --out=*) out="${args[i]#--out=}" ;;
    esac
done
export WANDB_MODE="${WANDB_MODE:-disabled}"
# No new check starts after limit - 30 s; timeout stops a check that overruns (the JSON keeps the others).
timeout --kill-after=10 "$((limit - 10))" "$python" -m bench.speed.device_check --deadline "$((limit - 30))" "$@"
status=$?
if [[ $status -eq 124 || $status -eq 137 ]]; then
    echo "device_check: stopped at the time limit; the checks that finished:" >&2
    "$python" -m bench.speed.device_check --out "$out" --report-only
fi
exit "$status"
