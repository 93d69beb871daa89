"""What every stage shares: which params sections it reads, strict params first, and one
clear line (exit status 2) for every error a user can fix.

`STAGES` is the code's side of the `params:` lists in dvc.yaml (tests/test_dvc_stages.py
holds the two together). A stage's body gets a config in which undeclared sections cannot
be read, so a stage can never depend on a param that DVC does not know it depends on.
"""
from __future__ import annotations

import sys
import time
from typing import Callable

from .config import SECTIONS, Config, load
from .errors import BrainganError

STAGES: dict[str, tuple[str, ...]] = {
    "validate": SECTIONS,
    "fetch": ("fetch",),
    "preprocess": ("seed", "preprocess"),
    "classifier": ("seed", "classifier"),
    "train": ("seed", "model", "train"),
    "evaluate": ("seed", "evaluate"),
}


def run(name: str, body: Callable[[Config], object], params: str = "params.yaml") -> None:
    """Validate the stage's params, run `body`; known errors become one clear line and exit 2."""
    t0 = time.time()
    try:
        body(load(params, STAGES[name], name))
    except BrainganError as e:
        print(f"braingan {name}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"braingan {name}: interrupted", file=sys.stderr)
        sys.exit(130)
    print(f"braingan {name}: done in {time.time() - t0:.1f} s", file=sys.stderr)
