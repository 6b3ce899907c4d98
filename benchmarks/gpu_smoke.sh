#!/usr/bin/env bash
# GPU smoke test: a few minutes on one GPU (budget: 8), to see that the GPU path works.
#
#   benchmarks/gpu_smoke.sh [--dry-run] [--out DIR]
#
# Steps, each timed:
#   1. TensorFlow sees a GPU (stops here otherwise)
#   2. environment report: cnncourse doctor in the full profile (GPUs, memory, compute
#      capability, CUDA / cuDNN of the build, XLA, mixed precision, strategy)
#   3. the layers' XLA (jit_compile=True) and mixed_float16 tests, and the GPU-marked tests
#   4. nbval of the three heaviest solution notebooks in the full profile (executed copies
#      and per-notebook times in DIR/nbval/)
# then prints the table of what it measured and exits non-zero if any step failed.
#
# Environment: PYTHON (default .venv-gpu/bin/python, else .venv/bin/python), NOTEBOOKS (the
# notebooks of step 4, stems separated by spaces), SMOKE_STEP_TIMEOUT (seconds one step may
# take, default 300), SMOKE_BUDGET (seconds the whole run should take, default 480: the table
# says when it took longer). --dry-run prints the commands without running them.
set -euo pipefail

cd "$(dirname "$0")/.."

DRY_RUN=0
OUT=gpu-smoke
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --out) OUT="${2:?--out needs a folder}"; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "gpu_smoke.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv-gpu/bin/python ]; then PYTHON=.venv-gpu/bin/python; else PYTHON=.venv/bin/python; fi
fi
NOTEBOOKS="${NOTEBOOKS:-03_first_cnns 04_architectures 08_localization_and_detection}"
STEP_TIMEOUT="${SMOKE_STEP_TIMEOUT:-300}"
BUDGET="${SMOKE_BUDGET:-480}"
export CNNCOURSE_PROFILE=full

NAMES=()
SECONDS_TAKEN=()
STATUSES=()
FAILED=0

# run_step NAME COMMAND...: run (or, with --dry-run, print) a command, time it, record the outcome
run_step() {
    local name="$1"
    shift
    echo
    echo "=== ${name}"
    echo "+ $*"
    local start end status
    start=$(date +%s.%N)
    if [ "$DRY_RUN" = 1 ]; then
        status="dry-run"
    elif timeout "$STEP_TIMEOUT" "$@"; then
        status="ok"
    else
        status="FAILED ($?)"
        FAILED=1
    fi
    end=$(date +%s.%N)
    NAMES+=("$name")
    SECONDS_TAKEN+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')")
    STATUSES+=("$status")
}

print_table() {
    echo
    echo "GPU smoke test: profile ${CNNCOURSE_PROFILE}, python ${PYTHON}"
    printf '%-44s %10s  %s\n' "step" "seconds" "status"
    local i total=0
    for i in "${!NAMES[@]}"; do
        printf '%-44s %10s  %s\n' "${NAMES[$i]}" "${SECONDS_TAKEN[$i]}" "${STATUSES[$i]}"
        total=$(awk -v a="$total" -v b="${SECONDS_TAKEN[$i]}" 'BEGIN { printf "%.1f", a + b }')
    done
    printf '%-44s %10s\n' "total" "$total"
    if awk -v t="$total" -v b="$BUDGET" 'BEGIN { exit !(t > b) }'; then
        echo "over the smoke test's budget of ${BUDGET} s: make the full profile of these notebooks smaller"
    fi
    local timing
    for timing in "$OUT"/nbval/*/timing.txt; do
        [ -f "$timing" ] || continue
        echo
        echo "nbval cells per notebook ($timing):"
        cat "$timing"
    done
}

mkdir -p "$OUT"
run_step "TensorFlow sees a GPU" "$PYTHON" -c 'import sys, tensorflow as tf; gpus = tf.config.list_physical_devices("GPU"); print("TensorFlow", tf.__version__, "sees", gpus); sys.exit(0 if gpus else "no GPU visible to TensorFlow")'
if [ "$FAILED" = 1 ]; then
    print_table
    echo "gpu_smoke.sh: TensorFlow sees no GPU; nothing else was run" >&2
    exit 1
fi
run_step "environment report (cnncourse doctor)" "$PYTHON" -m cnncourse doctor
run_step "layers: XLA and mixed_float16 tests" "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_layers.py -k "jit or mixed"
run_step "GPU-marked tests" "$PYTHON" -m pytest -q -p no:cacheprovider -m gpu tests
for stem in $NOTEBOOKS; do
    run_step "nbval, full profile: ${stem}" "$PYTHON" -m pytest -q -p benchmarks.nbval_record \
        --nbval-record="$OUT/nbval/${stem}" "solutions/${stem}.ipynb"
done

print_table | tee "$OUT/summary.txt"
if [ "$FAILED" = 1 ]; then
    echo "gpu_smoke.sh: a step failed (see above)" >&2
    exit 1
fi
