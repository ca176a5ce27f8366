#!/usr/bin/env bash
# The ablation ladder of paper Table 3 (experiments/ablation/*.yaml) on the bundled sample: every rung
# trained from scratch with the same step budget, tested, and compared in reports/sample/ablation.
# Rung 6 (CoBi) needs VGG-19 weights at weights/vgg19-dcbb9e9d.pth and is skipped without them.
#   bench/runners/ablation_sample.sh        # seed 0: runs/ablation, reports/sample/ablation/comparison.*
#   bench/runners/ablation_sample.sh 0 1 2  # every rung per seed: runs/ablation-seeds/seed<k>, then the
#                                           # mean ± std over seeds in reports/sample/ablation/seeds.{md,png}
set -euo pipefail
start=$(date +%s)
seeds=("${@:-0}")
for seed in "${seeds[@]}"; do
  for config in experiments/ablation/[0-9]_*.yaml; do  # the rungs, not their base.yaml
    name=$(basename "$config" .yaml)
    if [[ $name == 6_cobi && ! -f weights/vgg19-dcbb9e9d.pth ]]; then
      echo "skipping $name: no VGG-19 weights at weights/vgg19-dcbb9e9d.pth"
      continue
    fi
    lightning fit --config "$config" --seed_everything "$seed"
    lightning test --config "$config" --ckpt_path last
    if (( $# > 0 )); then  # keep each seed's runs apart (the configs name one folder per rung)
      mkdir -p "runs/ablation-seeds/seed$seed"
      rm -rf "runs/ablation-seeds/seed$seed/$name"
      mv "runs/ablation/$name" "runs/ablation-seeds/seed$seed/$name"
    fi
  done
done
if (( $# > 0 )); then
  python -m bench.studies.seed_table "${seeds[@]/#/runs/ablation-seeds/seed}" -o reports/sample/ablation/seeds.md \
    --chart reports/sample/ablation/seeds.png
else
  hdrsyn compare runs/ablation -o reports/sample/ablation
fi
echo "total: $(( $(date +%s) - start )) s"
