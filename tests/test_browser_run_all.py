"""Run All on each fresh student notebook, in JupyterLab in headless Chromium, reaches the last cell.

The kernels run the ``smoke`` profile (cnncourse/config.py): every cell runs, on the smallest
data and epochs. What this test proves is the student's path through the lesson (unfinished
exercises and the cells that need them stop in one line, Run All goes on); what the lesson's
training reaches in the ``quick`` profile, nbval proves on the solutions, whose other cells
are the same (``cnncourse generate --check``).

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and the
``selenium`` package (the ``test`` extra); skipped, with the reason, when one is missing.
Nothing is downloaded: the browser and its driver are the system's.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
STUDENT_NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: seconds Run All of one notebook may take (smoke profile, 2-core CPU)
RUN_ALL_SECONDS = 600


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return "no Chromium browser (apt-get install chromium chromium-driver)"
    if not Path(CHROMEDRIVER).exists():
        return "no chromedriver (apt-get install chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


if _missing():
    print(f"\nskipping the browser test: {_missing()}", file=sys.stderr)
pytestmark = pytest.mark.skipif(_missing() is not None, reason=f"browser test: {_missing()}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on fresh copies of notebooks/, and a headless Chromium driving it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    root = tmp_path_factory.mktemp("lab")
    for name in STUDENT_NOTEBOOKS:
        shutil.copy2(REPO / "notebooks" / name, root / name)
    port, token = _free_port(), "cnncourse-browser-test"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
               "--LabApp.expose_app_in_browser=True", "--ServerApp.disable_check_xsrf=True"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    env = {**os.environ, "CNNCOURSE_PROFILE": "smoke", "JUPYTER_CONFIG_DIR": str(root / ".jupyter-config")}
    log = open(root / "server.log", "w")
    server = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={root / '.chromium'}", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = None
    try:
        deadline = time.time() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    pytest.fail(f"JupyterLab did not start:\n{(root / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_script_timeout(60)
        # a headless window never has the focus, and without it JupyterLab has no current notebook
        # for Run All to act on (Chromium >= 132's headless mode); emulate the focus
        driver.execute_cdp_cmd("Emulation.setFocusEmulationEnabled", {"enabled": True})
        yield driver, f"http://127.0.0.1:{port}", token, root
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


STATE = """
const app = window.jupyterapp;
const panel = app && Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === arguments[0]);
if (!panel || !panel.content || !panel.sessionContext || !panel.content.model) { return null; }
if (app.shell.currentWidget !== panel) { app.shell.activateById(panel.id); }
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
const cells = panel.content.widgets.map(cell => ({
    type: cell.model.type,
    count: cell.model.type === 'code' ? cell.model.executionCount : null,
    empty: cell.model.sharedModel.getSource().trim() === '',
    errors: cell.model.type === 'code'
        ? cell.model.outputs.toJSON().filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)
        : []}));
return {status: kernel ? kernel.status : 'none', path: panel.context.path, cells: cells};
"""


def _state(driver, name):
    """The notebook ``name``'s kernel status and cells, as JupyterLab shows them (None until it is open)."""
    return driver.execute_script(STATE, name)


@pytest.mark.parametrize("name", STUDENT_NOTEBOOKS)
def test_run_all_reaches_the_last_cell(lab, name):
    driver, url, token, root = lab
    driver.get(f"{url}/lab/tree/{name}?token={token}&reset")
    deadline = time.time() + 120
    state = None
    while time.time() < deadline:
        state = _state(driver, name)
        if state and state["path"] == name and state["status"] == "idle":
            break
        time.sleep(1)
    else:
        pytest.fail(f"{name} did not open with an idle kernel: {state and state['status']}")
    assert driver.execute_script("return window.jupyterapp.commands.isEnabled('notebook:run-all-cells');"), (
        f"{name}: JupyterLab offers no Run All (no current notebook)")
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
    code = [i for i, c in enumerate(state["cells"]) if c["type"] == "code" and not c["empty"]]
    started = time.time()
    while time.time() - started < RUN_ALL_SECONDS:
        time.sleep(2)
        state = _state(driver, name)
        if state["status"] == "idle" and all(state["cells"][i]["count"] is not None for i in code):
            break
    unrun = [i + 1 for i in code if state["cells"][i]["count"] is None]
    errors = {i + 1: c["errors"] for i, c in enumerate(state["cells"]) if c["errors"]}
    assert not unrun, f"{name}: Run All stopped; cells {unrun} never ran. Errors: {errors}"
    # what stopped is only unfinished work: one-line messages, not tracebacks of other errors
    assert len(nbformat.read(root / name, as_version=4).cells) == len(state["cells"])
    for number, messages in errors.items():
        for message in messages:
            assert message.split(":")[0] in ("NotImplementedError", "NameError"), (name, number, message)
    print(f"{name}: Run All ran {len(code)} code cells in {time.time() - started:.0f} s; "
          f"{len(errors)} of them stopped on unfinished work")
