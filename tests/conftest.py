import os

import pytest

from helpers import STAHL


def unavailable(reason: str):
    """Skip a test whose outside part (a server program, a browser, a data file) is missing --
    except under .ci/run (BRAINGAN_CI=1), where that is a failure: CI cannot pass by skipping."""
    if os.environ.get("BRAINGAN_CI"):
        pytest.fail(f"BRAINGAN_CI: this test needs what is missing here: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def stahl_csv():
    if not STAHL.exists():
        unavailable(f"verified Stahl copy not found at {STAHL} (set BRAINGAN_STAHL)")
    return STAHL


def pytest_configure(config):
    # Every `dvc` command the tests run would otherwise spawn DVC's analytics daemon: a second
    # Python process per command that competes for the 2 cores and, with no route to
    # analytics.dvc.org, leaves its report file in /tmp. DVC's own test suite turns it off too.
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    # Under pytest-xdist (`-n 2`, the unit lane) each worker gets one of the 2 cores: two
    # workers with a full thread pool each would run many times slower. Tiny runs read
    # BRAINGAN_TEST_THREADS, stage subprocesses inherit OMP_NUM_THREADS.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("BRAINGAN_TEST_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch

        torch.set_num_threads(1)


# The costliest test files first. Under `-n 2 --dist loadfile` pytest-xdist hands a worker the
# next file when it frees up, in collection order (`--no-loadscope-reorder` in pyproject.toml:
# its default order, most tests first, would start these last and leave one worker idle at the
# end). Longest first, the two workers end close together.
COSTLIEST_FIRST = ("test_pipeline_e2e.py", "test_reliability_e2e.py", "test_tune.py", "test_experiments_e2e.py",
                   "test_ui_browser.py", "test_training.py", "test_moses_e2e.py", "test_evaluation.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(COSTLIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file's own order kept


@pytest.fixture(scope="session")
def made(tmp_path_factory):
    """tiny_params()'s data and classifier, made once per test process (helpers.made_data)."""
    from helpers import made_data

    return made_data(tmp_path_factory.mktemp("made"))


@pytest.fixture(scope="session")
def team_server(tmp_path_factory):
    """A throw-away PostgreSQL cluster on loopback and an `mlflow server` on it with a
    served artifact root, both removed afterwards."""
    from braingan import server

    if not (server.pg_bin("initdb") and server.pg_bin("pg_ctl")):
        unavailable("PostgreSQL server programs (initdb, pg_ctl) are not installed and could not be: "
                    ".ci/run installs Debian's `postgresql` with apt-get, which needs root and the Debian mirror")
    arts = tmp_path_factory.mktemp("team") / "artifacts"
    with server.postgres_cluster() as backend, server.mlflow_server(backend, arts) as url:
        yield {"url": url, "backend": backend, "artifacts": arts}
