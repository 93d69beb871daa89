#!/usr/bin/env bash
# Mutation testing (a benchmark, not part of CI): mutmut (pinned in the `test` extra) mutates
# the modules whose logic the tests must pin ([tool.mutmut] in pyproject.toml), runs the fast
# unit tests that cover each mutant, and the report prints killed / survived / timeout per
# module and the mutation score over the mutants not marked equivalent
# (benchmarks/mutation_equivalent.txt says why each is).
#   bash benchmarks/mutation.sh            # JOBS=2 by default; a full run takes about an hour on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf mutants
# two workers side by side on 2 cores: one thread each (tiny_params reads BRAINGAN_TEST_THREADS)
BRAINGAN_TEST_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/mutmut run --max-children "${JOBS:-2}" > mutants.log 2>&1 || true
tail -3 mutants.log
.venv/bin/python benchmarks/mutation_report.py
