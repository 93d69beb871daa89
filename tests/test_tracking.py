"""Tracking: store location, credentials never shown, unreachable servers fail fast."""
import time

import pytest

from braingan import tracking
from braingan.fsutil import repo_root


def test_unreachable_server_fails_within_seconds(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://user:secret@127.0.0.1:9")
    t = time.time()
    with pytest.raises(tracking.TrackingError) as e:
        tracking.Run(enabled=True)
    assert time.time() - t < 10
    assert "not reachable" in str(e.value) and "secret" not in str(e.value) and "***@127.0.0.1:9" in str(e.value)


def test_redact():
    assert tracking.redact("postgresql://u:p@db:5432/x") == "postgresql://***@db:5432/x"
    assert tracking.redact("sqlite:///a/b.db") == "sqlite:///a/b.db"
    assert tracking._param_str("https://u:p@h/x") == "https://***@h/x"


def test_queue_workspace_resolves_to_the_main_workspace(tmp_path, monkeypatch):
    (tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc" / ".dvc").mkdir(parents=True)
    assert repo_root(tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc") == tmp_path
    monkeypatch.chdir(tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
