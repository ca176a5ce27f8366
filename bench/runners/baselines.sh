# shellcheck shell=bash
# The baselines of the comparisons, listed once: sourced by compare_sample.sh, compare_release.sh and
# compare_test_scenes.sh (each config is experiments/baselines/<name>.yaml).
#
# Trained baselines (they train for a budget, then are tested from their last checkpoint).
TRAINED_BASELINES=(deep_recursive_hdri expandnet hdrcnn)
# Untrained references: x^2.2 and the analytic exposure stack (tested as they are).
REFERENCE_BASELINES=(linear_expansion exposure_shift)
# Labels of the references in compare_test_scenes.sh (the trained ones: their name with - for _).
declare -A BASELINE_LABELS=([linear_expansion]=x2.2 [exposure_shift]=analytic-stack)

# A budget of $1 seconds as --trainer.max_time takes it (DD:HH:MM:SS).
max_time_of() {
  printf "00:%02d:%02d:%02d" $(($1 / 3600)) $(($1 % 3600 / 60)) $(($1 % 60))
}
