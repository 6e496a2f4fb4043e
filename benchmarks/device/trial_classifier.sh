#!/usr/bin/env bash
# Issue 18's GPU trial: benchmarks/trial_classifier.py on a borrowed GPU machine (the `device`
# tool), in one command that fits its 10-minute limit, results back through $OUT.
#
# Once, here (the machine there has PyTorch, NumPy, SciPy, scikit-learn, Pillow, safetensors and
# tqdm, but no pydicom, and reaches no network):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux2014_x86_64 -d .whl pydicom==3.0.2
# Then, through the device tool (timeout 600; extra arguments go to the trial):
#   run(command="bash benchmarks/device/trial_classifier.sh --size 512 --width 32 --epochs 40",
#       carry=[".whl"], timeout_s=600)
# $OUT gets report.md, report.json, log.txt and the trained bundle as bundle.tar.part-* (the tool
# returns files of at most 16 MiB): `cat bundle.tar.part-* | tar x` restores classifier/.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
out="${OUT:-/tmp/trial-out}"
work=/tmp/trial
mkdir -p "$out"
{
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  nproc
  python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.is_available())'
  # Leaves the copy below time to run when the trial overruns.
  timeout "${TRIAL_SECONDS:-520}" python3 benchmarks/trial_classifier.py --work "$work" \
    --train-budget-s "${TRAIN_SECONDS:-330}" \
    --device cuda --workers "$(nproc)" "$@"
  echo "trial exit status $?"
} 2>&1 | tee "$out/log.txt"
cp "$work"/report.md "$work"/report.json "$out"/ 2>/dev/null
if [ -d "$work/models/classifier" ]; then
  tar -C "$work/models" -cf - classifier | split -b 15m - "$out/bundle.tar.part-"
fi
ls -la "$out"
