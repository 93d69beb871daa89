#!/usr/bin/env bash
# Mutation testing (a benchmark, not part of CI): mutmut (pinned in the `test` extra) mutates
# the modules of [tool.mutmut] only_mutate in pyproject.toml, runs the unit tests that cover
# each mutant, and the report prints per module killed / survived / timeout, the score and an
# exact binomial interval for the score of all of its mutants.
#   bash benchmarks/mutation.sh          # PER_MODULE (20) random mutants per module
#   PER_MODULE=0 bash benchmarks/mutation.sh   # every mutant: many hours on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf mutants
# two workers side by side on 2 cores: one thread each (tiny_params reads BRAINGAN_TEST_THREADS)
export BRAINGAN_TEST_THREADS=1 OMP_NUM_THREADS=1
# the tests run from mutants/, so point them at the verified Stahl copy beside this checkout
export BRAINGAN_STAHL="${BRAINGAN_STAHL:-$PWD/../shared/data/stahl-dataset.csv}"
if [ "${PER_MODULE:-20}" = 0 ]; then
    .venv/bin/mutmut run --max-children "${JOBS:-2}" > mutants.log 2>&1 || true
else
    # generate every mutant and map the tests to them (no mutant matches the name), then run a sample
    .venv/bin/mutmut run --max-children "${JOBS:-2}" "no-such-mutant" > mutants.log 2>&1 || true
    .venv/bin/mutmut run --max-children "${JOBS:-2}" $(.venv/bin/python benchmarks/mutation_sample.py \
        "${PER_MODULE:-20}") >> mutants.log 2>&1 || true
fi
tail -c 300 mutants.log | tr '\r' '\n' | tail -2
.venv/bin/python benchmarks/mutation_report.py
