#!/usr/bin/env bash
# Models on the sample's test scenes: 6 real HDR panoramas of other places than the 16 the runs train and
# validate on, never used to train, validate or choose anything (`SampleDataset("test")`, 8 views each,
# rendered as the held-out views: EMoR responses, noise, key 0.18, no JPEG). One `lightning test` per model with
# `--data.init_args.test_split test`, then one table + chart. Run from the repository root:
#
#   bench/runners/compare_test_scenes.sh                       # the default list below
#   bench/runners/compare_test_scenes.sh label=config:ckpt ... # any runs (ckpt empty for untrained references)
#
# Default list: the packaged model's run (runs/release/joint), the main job (runs/joint), the baselines trained at
# the release budget (runs/release-baselines, bench/runners/compare_release.sh), x^2.2 and the analytic exposure stack (baselines.sh).
# OUT_ROOT (runs/test-scenes) receives one run folder per label; REPORT (reports/release/test_scenes) the table.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/baselines.sh"
out="${OUT_ROOT:-runs/test-scenes}"
report="${REPORT:-reports/release/test_scenes}"
if [[ $# -eq 0 ]]; then
  last=checkpoints/last.ckpt base=experiments/baselines trained=runs/release-baselines
  specs=("release=experiments/release/joint.yaml:runs/release/joint/$last" "main-job=experiments/joint.yaml:runs/joint/$last")
  for name in "${TRAINED_BASELINES[@]}"; do specs+=("${name//_/-}=$base/$name.yaml:$trained/$name/$last"); done
  for name in "${REFERENCE_BASELINES[@]}"; do specs+=("${BASELINE_LABELS[$name]}=$base/$name.yaml:"); done
  set -- "${specs[@]}"
fi
for spec in "$@"; do
  label="${spec%%=*}" rest="${spec#*=}"
  config="${rest%%:*}" ckpt="${rest#*:}"
  [[ -f "$config" ]] || { echo "compare_test_scenes.sh: no config $config (from '$spec')" >&2; exit 2; }
  [[ -z "$ckpt" || -f "$ckpt" ]] || { echo "compare_test_scenes.sh: no checkpoint $ckpt (from '$spec')" >&2; exit 2; }
  # a joint stage's checkpoint holds every weight: no earlier stage to load (runs/global may be another run's)
  stages=()
  grep -q "global_ckpt:" "$config" && stages=(--model.init_args.global_ckpt null --model.init_args.local_ckpt null)
  lightning test --config "$config" --data.init_args.test_split test --trainer.default_root_dir "$out/$label" \
    --trainer.logger.init_args.name "test-scenes-$label" "${stages[@]}" ${ckpt:+--ckpt_path "$ckpt"}
done
hdrsyn compare "$out" -o "$report"
