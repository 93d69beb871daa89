#!/usr/bin/env bash
# Mutation testing (a benchmark, not part of CI): mutmut (pinned in the `test` extra) mutates
# the modules whose logic the tests must pin ([tool.mutmut] in pyproject.toml), runs the fast
# unit tests that cover each mutant, and the report prints killed / survived / timeout per
# module and the mutation score over the mutants not marked equivalent
# (benchmarks/mutation_equivalent.txt says why each is).
#   bash benchmarks/mutation.sh                 # every mutant: several hours on 2 cores
#   SAMPLE=0.3 bash benchmarks/mutation.sh      # the cheapest for CHEAP_MIN (30) minutes, then a
#                                               # random 30 % of the rest; the report estimates the score
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf mutants
# two workers side by side on 2 cores: one thread each (tiny_params reads BRAINGAN_TEST_THREADS)
export BRAINGAN_TEST_THREADS=1 OMP_NUM_THREADS=1
# the tests run from mutants/, so point them at the verified Stahl copy beside this checkout
export BRAINGAN_STAHL="${BRAINGAN_STAHL:-$PWD/../shared/data/stahl-dataset.csv}"
if [ -z "${SAMPLE:-}" ]; then
    .venv/bin/mutmut run --max-children "${JOBS:-2}" > mutants.log 2>&1 || true
else
    # mutmut runs the mutants with the cheapest tests first; stop it, then draw from the rest
    timeout "${CHEAP_MIN:-30}m" .venv/bin/mutmut run --max-children "${JOBS:-2}" > mutants.log 2>&1 || true
    pkill -f "mutmut run" || true  # its workers outlive the main process
    .venv/bin/mutmut run --max-children "${JOBS:-2}" $(.venv/bin/python benchmarks/mutation_sample.py "$SAMPLE") \
        >> mutants.log 2>&1 || true
fi
tail -c 300 mutants.log | tr '\r' '\n' | tail -2
.venv/bin/python benchmarks/mutation_report.py
