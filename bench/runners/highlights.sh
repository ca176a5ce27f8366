#!/usr/bin/env bash
# #33's highlight research on the bundled sample (docs/highlights.md): every ablation row trained with the
# main job's budget (150 / 150 / 200 steps), then all of them scored by the release judge on the mixed table of
# camera families (bench/studies/release.py) against the main job. Run from the repository root, after
# `hdrsyn pipeline` (the main job: runs/{global,local,joint}). One thread per training: two rows run at once
# on the 2-core CPU (OMP_NUM_THREADS=1; our joint stage does not gain from a second thread).
set -euo pipefail
export OMP_NUM_THREADS=1
start=$(date +%s)
row() {  # row <name> <lightning fit config>: a joint-stage row on the main job's global and local stages
  lightning fit --config "$2" && lightning test --config "$2" --ckpt_path last
}
row clipped_loss experiments/highlights/clipped_loss.yaml &
hdrsyn pipeline --experiments experiments/highlights/views --overwrite --no-test-scenes &
wait
hdrsyn pipeline --experiments experiments/highlights/context --overwrite --no-test-scenes
out=reports/release/highlights
python -m bench.studies.release main=runs/joint/checkpoints/last.ckpt \
  clipped_loss=runs/highlights/clipped_loss/checkpoints/last.ckpt \
  views=runs/highlights/views/joint/checkpoints/last.ckpt \
  context=runs/highlights/context/joint/checkpoints/last.ckpt \
  --reference main --csv "$out/scores.csv" -o "$out/table.md"
echo "total: $(( $(date +%s) - start )) s"
