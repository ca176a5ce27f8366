#!/usr/bin/env bash
# The comparison table of the README: our method (three stages) and every trained baseline on the bundled
# sample, each given the same CPU wall time for training, then one table. Run from the repository root.
# Our method's budget is what its three stages take with the configs' step counts (150 + 150 + 200); every
# trained baseline then trains for that long (--trainer.max_time, any number of steps).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/baselines.sh"
start=$(date +%s)
hdrsyn pipeline --no-test
budget=$(( $(date +%s) - start ))
echo "training budget per method: $budget s"
lightning test --config experiments/joint.yaml --ckpt_path last
max_time=$(max_time_of "$budget")
for name in "${TRAINED_BASELINES[@]}"; do
  lightning fit --config "experiments/baselines/$name.yaml" --trainer.max_steps -1 --trainer.max_time "$max_time"
  lightning test --config "experiments/baselines/$name.yaml" --ckpt_path last
done
for name in "${REFERENCE_BASELINES[@]}" debevec_gt; do
  lightning test --config "experiments/baselines/$name.yaml"
done
hdrsyn compare runs/joint runs/baselines -o reports/sample
echo "training budget per method: $budget s; total: $(( $(date +%s) - start )) s"
