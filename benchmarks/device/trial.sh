#!/usr/bin/env bash
# A model trial on a borrowed GPU machine (the `device` tool) in one command that fits its
# 10-minute limit: benchmarks/trial_classifier.py (issue 18) or benchmarks/trial_generator.py
# (issue 19), the results and the trained bundles back through $OUT.
#
# Once, here (the machine there has PyTorch, NumPy, SciPy, scikit-learn, Pillow, safetensors and
# tqdm, but no pydicom, and reaches no network):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux2014_x86_64 -d .whl pydicom==3.0.2
# Then, through the device tool (arguments after the trial's name go to its script):
#   run(command="bash benchmarks/device/trial.sh classifier --size 512 --width 32 --epochs 40",
#       carry=[".whl"], timeout_s=600)
#   run(command="bash benchmarks/device/trial.sh generator -- --size 512 --ngf 32 --ndf 32 ...",
#       carry=[".whl"], timeout_s=600)
# $OUT gets log.txt, report.json (report.md for the classifier) and the trained bundles as
# bundle.tar.part-* (the tool returns files of at most 16 MiB, 64 MiB in all):
#   mkdir -p WORK/models && cat bundle.tar.part-* | tar -x -C WORK/models
# TRAIN_SECONDS (default 330) bounds the training steps, TRIAL_SECONDS (520) the whole trial.
set -u
trial="${1:-}"
shift || true
case "$trial" in
  classifier | generator) ;;
  *) echo "usage: trial.sh classifier|generator [options of benchmarks/trial_NAME.py]"; exit 2 ;;
esac
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
out="${OUT:-/tmp/trial-out}"
work=/tmp/trial
mkdir -p "$out"
# A warm machine keeps the last trial's work folder: its phantoms are reused, its reports not.
rm -f "$work/report.md" "$work/report.json"
{
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  echo "cores: $(nproc)"
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
  # The trial's own timeout leaves the copy below time to run when it overruns.
  timeout "${TRIAL_SECONDS:-520}" python3 "benchmarks/trial_$trial.py" --work "$work" \
    --device cuda --workers "$(nproc)" --train-budget-s "${TRAIN_SECONDS:-330}" "$@"
  status=$?
  echo "trial exit status $status"
  echo "$status" > /tmp/trial.status
} 2>&1 | tee "$out/log.txt"
cp "$work"/report.md "$work"/report.json "$out"/ 2>/dev/null
if [ -d "$work/models" ]; then
  tar -C "$work/models" --exclude ./segmenter -cf /tmp/bundles.tar .
  # What comes back: at most 8 files (16 MiB each, 64 MiB in all); log and reports take 3.
  size=$(stat -c %s /tmp/bundles.tar)
  if [ "$size" -gt $((60 * 1024 * 1024)) ]; then
    echo "bundles are $size bytes: more than comes back; narrower networks" | tee -a "$out/log.txt"
  else
    split -b 15m /tmp/bundles.tar "$out/bundle.tar.part-"
  fi
fi
ls -la "$out"
exit "$(cat /tmp/trial.status 2>/dev/null || echo 1)"
