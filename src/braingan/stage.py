"""The shared wrapper of every stage entry point: strict params first, clear errors after."""
from __future__ import annotations

import sys
import time
from typing import Callable

from .config import Config, ConfigError, load
from .fsutil import DataError
from .tracking import TrackingError


def run(name: str, body: Callable[[Config], object], params: str = "params.yaml") -> None:
    """Validate params, run `body`; known errors become one clear line and exit status 2."""
    t0 = time.time()
    try:
        cfg = load(params)
        body(cfg)
    except (ConfigError, DataError, TrackingError) as e:
        print(f"braingan {name}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"braingan {name}: interrupted", file=sys.stderr)
        sys.exit(130)
    print(f"braingan {name}: done in {time.time() - t0:.1f} s", file=sys.stderr)
