#!/usr/bin/env bash
# The ablation ladder of paper Table 3 (experiments/ablation/*.yaml) on the bundled sample: every rung
# trained from scratch with the same step budget, tested, and compared in reports/sample/ablation.
# Rung 6 (CoBi) needs VGG-19 weights at weights/vgg19-dcbb9e9d.pth and is skipped without them.
set -euo pipefail
start=$(date +%s)
for config in experiments/ablation/*.yaml; do
  name=$(basename "$config" .yaml)
  if [[ $name == 6_cobi && ! -f weights/vgg19-dcbb9e9d.pth ]]; then
    echo "skipping $name: no VGG-19 weights at weights/vgg19-dcbb9e9d.pth"
    continue
  fi
  lightning fit --config "$config"
  lightning test --config "$config" --ckpt_path last
done
hdrsyn compare runs/ablation -o reports/sample/ablation
echo "total: $(( $(date +%s) - start )) s"
