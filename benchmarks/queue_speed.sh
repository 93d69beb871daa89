#!/usr/bin/env bash
# Eight tiny experiments (the variants of tests/test_experiments_e2e.py), one by one with
# `dvc exp run` vs queued with `dvc queue start -j 2`, each in a fresh throw-away copy of
# the project; prints the wall time of each and the MLflow runs that landed.
#   bash benchmarks/queue_speed.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY="$ROOT/.venv/bin/python"
V="model.activation=sigmoid model.activation=softmax train.tasks=mnist train.tasks=smiles
   model.conditioning=task model.z_dim=4 train.loss=wgan-clip train.lr_g=0.0003"
for mode in seq queue; do
  d=$(mktemp -d "/tmp/braingan-queue-$mode-XXXX")
  (cd "$ROOT/tests" && "$PY" -c "import sys; from pathlib import Path; from helpers import make_repo, tiny_params; make_repo(Path(sys.argv[1]), tiny_params())" "$d")
  cd "$d"
  export PATH="$ROOT/.venv/bin:$PATH" PYTHONPATH="$d/src"
  dvc repro -q >/dev/null 2>&1
  t0=$(date +%s)
  if [ "$mode" = seq ]; then
    for v in $V; do dvc exp run -q -S "$v" >/dev/null 2>&1; done
  else
    for v in $V; do dvc exp run --queue -q -S "$v" >/dev/null 2>&1; done
    dvc queue start -j 2 >/dev/null 2>&1
    while status=$(dvc queue status) && grep -qE "Queued|Running" <<<"$status"; do sleep 3; done
  fi
  echo "$mode: $(( $(date +%s) - t0 )) s"
  "$PY" -c "
from mlflow.tracking import MlflowClient
c = MlflowClient('sqlite:///$d/mlflow.db'); e = c.get_experiment_by_name('braingan')
rs = c.search_runs([e.experiment_id], max_results=1000)
print('  runs:', len(rs), 'statuses:', sorted({r.info.status for r in rs}))"
  cd "$ROOT"
  rm -rf "$d"
done
