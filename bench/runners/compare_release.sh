#!/usr/bin/env bash
# The packaged model against every trained baseline at the release budget (MODEL.md): each baseline trains on
# the release recipe's data (experiments/overlays/release_data.yaml) for the release model's training budget,
# is tested on the held-out views, and one table + chart compares them with the release model's own test run
# (runs/release/joint/test) and the analytic references. Run from the repository root.
#
#   bench/runners/compare_release.sh              # each baseline trains BUDGET_S seconds here (--trainer.max_time)
#   STEPS="hdrcnn=18800 expandnet=14200 deep_recursive_hdri=38000" PARALLEL=1 bench/runners/compare_release.sh fit
#       # the same budget as optimiser steps: what each baseline reaches in BUDGET_S on the 2-core reference
#       # CPU (MODEL.md), so that a faster machine (a GPU) can train them, PARALLEL=1 all at once
#
# First argument: all (default), fit (train only) or test (test the trained baselines and compare). BUDGET_S
# defaults to 3859 s, the v3 release model's training time (global 1079 + local 197 + joint 2583 s).
# OUT_ROOT (runs/release-baselines) holds one run folder per baseline; the table goes to reports/release/baselines.
# With STEPS, MAX_TIME caps each training's wall time (default: the budget); FIT_ARGS adds arguments to every
# fit; NO_LOGGER=1 for an experiment tree whose configs name no logger (a machine without wandb).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/baselines.sh"
what="${1:-all}"
case "$what" in all|fit|test) ;; *) echo "compare_release.sh: first argument must be all, fit or test, got '$what'" >&2; exit 2 ;; esac
budget="${BUDGET_S:-3859}"
root="${OUT_ROOT:-runs/release-baselines}"
names=("${TRAINED_BASELINES[@]}")
declare -A steps=()
for pair in ${STEPS:-}; do steps["${pair%%=*}"]="${pair#*=}"; done
mkdir -p "$root"
max_time=$(max_time_of "$budget")
overlay=(--config experiments/overlays/release_data.yaml)
group=(--trainer.logger.init_args.group release-baselines)
[[ -n "${NO_LOGGER:-}" ]] && group=()  # an experiment tree whose configs have no logger (no wandb installed)

fit_one() {
  local name=$1 limit=(--trainer.max_steps -1 --trainer.max_time "$max_time")
  if [[ -n "${steps[$name]:-}" ]]; then limit=(--trainer.max_steps "${steps[$name]}" --trainer.max_time "${MAX_TIME:-$max_time}"); fi
  lightning fit --config "experiments/baselines/$name.yaml" "${overlay[@]}" "${limit[@]}" \
    --trainer.default_root_dir "$root/$name" "${group[@]}" ${FIT_ARGS:-}
}

if [[ "$what" != test ]]; then
  echo "release budget per baseline: ${budget} s (${STEPS:-wall time on this machine})"
  if [[ -n "${PARALLEL:-}" ]]; then
    pids=()
    for name in "${names[@]}"; do fit_one "$name" > "$root-$name.log" 2>&1 & pids+=($!); done
    status=0; for pid in "${pids[@]}"; do wait "$pid" || status=1; done
    [[ $status -eq 0 ]] || { echo "compare_release.sh: a training failed; see $root-*.log" >&2; exit 1; }
  else
    for name in "${names[@]}"; do fit_one "$name"; done
  fi
fi
if [[ "$what" != fit ]]; then
  for name in "${names[@]}"; do
    lightning test --config "experiments/baselines/$name.yaml" "${overlay[@]}" --trainer.default_root_dir "$root/$name" \
      "${group[@]}" --ckpt_path "$root/$name/checkpoints/last.ckpt"
  done
  for name in "${REFERENCE_BASELINES[@]}"; do
    lightning test --config "experiments/baselines/$name.yaml" --trainer.default_root_dir "$root/$name" \
      "${group[@]}"
  done
  hdrsyn compare runs/release/joint/test "$root" -o reports/release/baselines
fi
