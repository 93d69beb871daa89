#!/usr/bin/env bash
# Two queued default trainings side by side vs one alone: steps/s of each, from the train
# stage's own metrics. Run in a checkout where `dvc repro` has run (nothing else running);
# the three experiments are removed afterwards.
#   bash benchmarks/queue_pair.sh [STEPS [PARAM=VALUE ...]]    # default 2000 steps each
#   bash benchmarks/queue_pair.sh 2000 train.compile=true
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
N=${1:-2000}
shift || true
EXTRA=()
for kv in "$@"; do EXTRA+=(-S "$kv"); done
dvc exp run --queue -q -n qpair-a -S train.steps=$N "${EXTRA[@]}" >/dev/null 2>&1
dvc exp run --queue -q -n qpair-b -S train.steps=$((N + 1)) "${EXTRA[@]}" >/dev/null 2>&1
dvc queue start -j 2 >/dev/null 2>&1
sleep 5
# (capture first: `grep -q` closing the pipe early would end the loop under pipefail)
while status=$(dvc queue status) && grep -qE "Queued|Running" <<<"$status"; do sleep 5; done
dvc exp run -q -n qpair-lone -S train.steps=$((N + 2)) "${EXTRA[@]}" >/dev/null 2>&1
dvc exp show --json | python -c "
import json, sys
rates = {}
def walk(x):
    if isinstance(x, dict):
        name = x.get('name')
        m = (((x.get('data') or {}).get('metrics') or {}).get('results/train/metrics.json') or {}).get('data')
        if name in ('qpair-a', 'qpair-b', 'qpair-lone') and m:
            rates[name] = m['steps_per_s']
        for v in x.values():
            walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
walk(json.load(sys.stdin))
lone = rates['qpair-lone']
print(f'lone: {lone:.2f} steps/s')
for n in ('qpair-a', 'qpair-b'):
    print(f'{n} (queued, -j 2): {rates[n]:.2f} steps/s = {rates[n] / lone:.2f} of lone')
"
dvc exp remove -q qpair-a qpair-b qpair-lone
