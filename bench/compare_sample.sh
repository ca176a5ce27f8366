#!/usr/bin/env bash
# The comparison table of the README: our method (three stages) and every baseline trained and tested on
# the bundled sample at the CPU budget of the configs, then one table. Run from the repository root.
set -euo pipefail
start=$(date +%s)
hdrsyn pipeline
for name in deep_recursive_hdri expandnet hdrcnn; do
  lightning fit --config "experiments/baselines/$name.yaml"
  lightning test --config "experiments/baselines/$name.yaml" --ckpt_path last
done
for name in linear_expansion exposure_shift debevec_gt; do
  lightning test --config "experiments/baselines/$name.yaml"
done
hdrsyn compare runs -o reports/sample
echo "total: $(( $(date +%s) - start )) s"
