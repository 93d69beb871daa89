"""Stage `inputs`: fingerprints of the local files that `fetch.*.path` names.

DVC cannot list a file named by a param as a dependency, so this tiny stage runs on every
`dvc repro` (always_changed) and writes the files' sha256; `fetch` depends on that
fingerprint and re-runs exactly when such a file changed. Standard library and PyYAML
only, to stay fast. Unreadable params are left for stage `validate` to report (nothing
is written then, so a rejected params file changes no output)."""
import hashlib
import json
import os
import sys
from pathlib import Path

import yaml

OUT = Path("results/inputs/fingerprints.json")


def fingerprint(path: str) -> str:
    p = Path(path)
    files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
    h = hashlib.sha256()
    for f in files:
        if not f.is_file():  # missing, a FIFO, a device: fetch reports it
            return "unreadable"
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


if __name__ == "__main__":
    try:
        fetch = yaml.safe_load(Path("params.yaml").read_text())["fetch"]
        paths = {k: fetch[k]["path"] for k in ("mnist", "smiles") if fetch[k].get("path")}
    except Exception:  # noqa: BLE001 - stage validate says what is wrong with params.yaml
        sys.exit(0)
    text = json.dumps({k: {"path": v, "sha256": fingerprint(v) if os.path.exists(v) else "missing"}
                       for k, v in paths.items()}, indent=2, sort_keys=True) + "\n"
    if not OUT.exists() or OUT.read_text() != text:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        tmp = OUT.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, OUT)

