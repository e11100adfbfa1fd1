"""Round trip through a real Label Studio server (opt in: ``pytest -m labelstudio``).

Starts ``label-studio`` on 127.0.0.1 with a throw-away data folder, creates a
project through its HTTP API with skal's Choices config, imports the tasks
``skal query --format label-studio`` wrote, posts annotations as an annotator
would, exports the project (JSON and JSON_MIN) and teaches skal from the
export. The executable is ``$SKAL_LABEL_STUDIO`` or ``label-studio`` on PATH
(``pip install 'skal[labelstudio]'``; a separate virtual environment works,
the test only talks HTTP to it).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from skal.__main__ import main
from skal.datasets import load_digits_embeddings
from skal.labeling import LabelingSession

pytestmark = pytest.mark.labelstudio

_EXE = os.environ.get("SKAL_LABEL_STUDIO") or shutil.which("label-studio")
_TOKEN = "skal-test-token-0123456789abcdef"
_START_TIMEOUT_S = 300  # first start runs the database migrations (minutes on a loaded machine)
_REQUEST_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    def __init__(self, folder):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(folder, "label-studio.log")
        env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": os.path.join(folder, "data"),
               "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true", "SENTRY_DSN": "",
               "COLLECT_ANALYTICS": "false", "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true"}
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [_EXE, "start", "--no-browser", "--internal-host", "127.0.0.1",
                 "--port", str(self.port), "--host", self.url,
                 "--data-dir", os.path.join(folder, "data"),
                 "--username", "skal@example.com", "--password", "skal-test-password",
                 "--user-token", _TOKEN, "--enable-legacy-api-token"],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait_ready(self):
        deadline = time.monotonic() + _START_TIMEOUT_S
        for _ in range(_START_TIMEOUT_S):  # bounded in count and in time
            if self.proc.poll() is not None:
                pytest.fail(f"label-studio exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        pytest.fail(f"label-studio did not answer within {_START_TIMEOUT_S} s: {self.log_tail()}")

    def log_tail(self, n=2000):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-n:]

    def api(self, method, path, body=None, raw=False):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method,
            headers={"Authorization": f"Token {_TOKEN}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=_REQUEST_TIMEOUT_S) as r:
                payload = r.read()
        except urllib.error.HTTPError as exc:
            pytest.fail(f"{method} {path}: HTTP {exc.code}: {exc.read()[:500]!r}")
        return payload if raw else json.loads(payload or b"null")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)


@pytest.fixture
def server(tmp_path):
    if _EXE is None:
        pytest.skip("label-studio is not installed: pip install 'skal[labelstudio]' (or set "
                    "SKAL_LABEL_STUDIO to the label-studio executable of another environment)")
    srv = _Server(str(tmp_path))
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def _tasks_of(server, project, expected):
    """All tasks of the project (the import may finish after its request returns)."""
    deadline = time.monotonic() + 60
    for _ in range(60):
        page = server.api("GET", f"/api/tasks?project={project}&page_size=1000")
        tasks = page["tasks"] if isinstance(page, dict) else page
        if len(tasks) >= expected or time.monotonic() > deadline:
            return tasks
        time.sleep(1)
    return tasks


def test_label_studio_round_trip(server, tmp_path, capsys):
    X, y = load_digits_embeddings(return_X_y=True)
    rng = np.random.default_rng(0)
    answers = np.where(rng.random(y.size) < 0.2, (y + 1) % 10, y)  # a noisy annotator
    np.save(tmp_path / "pool.npy", X)
    state = str(tmp_path / "s.skal")
    assert main(["init", state, "--pool", str(tmp_path / "pool.npy"), "--classes",
                 "0,1,2,3,4,5,6,7,8,9", "--budget", "20", "--rounds", "2"]) == 0
    assert main(["query", state, "--out", str(tmp_path / "tasks.json"), "--format",
                 "label-studio", "--whole-round", "--label-config",
                 str(tmp_path / "config.xml")]) == 0
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert len(tasks) == 20

    project = server.api("POST", "/api/projects", {
        "title": "skal round trip", "label_config": (tmp_path / "config.xml").read_text()})["id"]
    server.api("POST", f"/api/projects/{project}/import", tasks)
    ls_tasks = _tasks_of(server, project, len(tasks))
    assert sorted(t["data"]["skal_id"] for t in ls_tasks) == sorted(t["data"]["skal_id"]
                                                                    for t in tasks)
    # The annotator labels all but two tasks (a partial answer).
    posted = {}
    for task in sorted(ls_tasks, key=lambda t: t["id"])[:-2]:
        item = task["data"]["skal_id"]
        label = str(answers[int(item)])
        server.api("POST", f"/api/tasks/{task['id']}/annotations", {
            "result": [{"from_name": "label", "to_name": "item", "type": "choices",
                        "value": {"choices": [label]}}], "was_cancelled": False})
        posted[item] = int(label)

    export = server.api("GET", f"/api/projects/{project}/export?exportType=JSON", raw=True)
    (tmp_path / "export.json").write_bytes(export)
    capsys.readouterr()
    assert main(["teach", state, str(tmp_path / "export.json")]) == 0
    assert "taught 18 label(s)" in capsys.readouterr().out
    session = LabelingSession.open(state)
    taught = {session.pool.ids[i]: int(v) for i, v in
              zip(session.learner.labeled_idx_, session.learner.labels_)}
    assert taught == posted
    assert session.status()["n_asked"] == 2

    # JSON_MIN export of the same project: nothing new, so nothing changes.
    minimal = server.api("GET", f"/api/projects/{project}/export?exportType=JSON_MIN", raw=True)
    (tmp_path / "export_min.json").write_bytes(minimal)
    before = (tmp_path / "s.skal").read_bytes()
    assert main(["teach", state, str(tmp_path / "export_min.json")]) == 0
    assert "taught 0 label(s); 18 already known" in capsys.readouterr().out
    assert (tmp_path / "s.skal").read_bytes() == before
