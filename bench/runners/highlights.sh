#!/usr/bin/env bash
# #33's highlight research and release candidates on the bundled sample (docs/highlights.md), then the release
# judge (bench/studies/release.py) over all of them. Run from the repository root. Every row trains with the
# main job's budget (150 / 150 / 200 steps) unless named a candidate; one thread per training, two at once on
# the 2-core CPU (our joint stage does not gain from a second thread). About 2 h on 2 cores.
set -euo pipefail
export OMP_NUM_THREADS=1
start=$(date +%s)
seed1=experiments/overlays/seed1.yaml
rows() {  # rows <row> [seed overlay]: a three-stage row of experiments/highlights, its runs kept per seed
  local row=$1 name=$1
  if (( $# > 1 )); then name=$1-seed1; fi
  hdrsyn pipeline --experiments "experiments/highlights/$row" ${2:+--overlay "$2"} --overwrite --no-test-scenes
  if [[ $name != "$row" ]]; then rm -rf "runs/highlights/$name"; mv "runs/highlights/$row" "runs/highlights/$name"; fi
}
rows before "$seed1" && rows before  # seed 0 last: the joint-only rows below start from its stages
for weight in clipped_loss clipped_loss_1; do
  lightning fit --config "experiments/highlights/$weight.yaml" --overwrite
done &
rows views &
wait
rows context "$seed1" && rows context &
rows all "$seed1" && rows all &
wait
hdrsyn pipeline --experiments experiments/candidates/release_highlights --overwrite --no-test-scenes &
hdrsyn pipeline --experiments experiments/candidates/main_highlights_long --overwrite --no-test-scenes &
wait
out=reports/release/judge
models=(v4=hdrsyn-cpu-sample-v4)
for row in before before-seed1 views context context-seed1 all all-seed1; do
  models+=("$row=runs/highlights/$row/joint/checkpoints/last.ckpt")
done
models+=(clipped_loss=runs/highlights/clipped_loss/checkpoints/last.ckpt
         clipped_loss_1=runs/highlights/clipped_loss_1/checkpoints/last.ckpt
         release_highlights=runs/candidates/release_highlights/joint/checkpoints/last.ckpt
         main_highlights_long=runs/candidates/main_highlights_long/joint/checkpoints/last.ckpt)
python -m bench.studies.release "${models[@]}" --reference v4 --csv "$out/scores.csv" -o "$out/table.md" \
  --chart "$out/pu21.png"
echo "total: $(( $(date +%s) - start )) s"
