"""The Label Studio ML backend (claus_core.labeling.backend, issue 27): its answers to the request
bodies a real Label Studio 1.23.2 sent (``tests/fixtures/labelstudio/backend_requests.json``,
recorded by ``scripts/labelstudio_live.py --fixtures``), the scores that make Label Studio show
CLAUS's order, a round started by START_TRAINING against a stand-in of Label Studio's API, and
the HTTP server itself on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from labeling_support import LS_FIXTURES, small_project

from claus_core.data.types import DataError
from claus_core.data.ucf101_24 import load_ucf101_24_mini
from claus_core.files import StoreError
from claus_core.labeling import LabelProject, import_round, select_round
from claus_core.labeling.backend import Backend, ServeConfig, make_server
from claus_core.labeling.simulate import answer_tasks

RECORDED = json.loads((LS_FIXTURES / "backend_requests.json").read_text())


def task(name: str, index: int | None = 0) -> dict[str, Any]:
    data: dict[str, Any] = {"video_name": name}
    if index is not None:
        data["claus_round"] = index
    return {"id": 1, "data": data}


def test_the_bodies_a_real_label_studio_sent_are_answered(project: LabelProject) -> None:
    FakeLabelStudio.calls = []
    backend = Backend(project, api=FakeLabelStudio)
    assert backend.setup(RECORDED["setup"]) == {"model_version": "claus round 0"}
    assert backend._connection["project"] == int(str(RECORDED["setup"]["project"]).split(".")[0])
    body = RECORDED["predict"]
    answer = backend.predict(body)
    assert len(answer["results"]) == len(body["tasks"])  # one per task, in task order
    for result in answer["results"]:
        assert result["model_version"] == "claus round 0" and 0 < result["score"] <= 1
    for action in ("ANNOTATION_CREATED", "PROJECT_UPDATED", "TASKS_CREATED"):
        assert backend.webhook(RECORDED[f"webhook_{action}"])["started"] is False
    thread = backend._version_thread
    if thread is not None:
        thread.join(10)
    assert ("version", "claus round 0") in FakeLabelStudio.calls  # the project's version, once


def test_the_first_video_claus_chose_gets_the_lowest_score(project: LabelProject) -> None:
    """Label Studio sorts by ascending score: the score is CLAUS's order as a confidence."""
    backend = Backend(project)
    order = list(dict.fromkeys(r["video"] for r in project.request(0)["records"]))
    tasks = [task(name) for name in reversed(order)] + [task("Fencing/not_asked")]
    results = backend.predict({"tasks": tasks})["results"]
    scores = [r["score"] for r in results]
    assert scores[:-1] == [(k + 1) / (len(order) + 1) for k in reversed(range(len(order)))]
    assert scores[-1] == 1.0 and results[-1]["result"] == []


def test_a_task_of_an_earlier_round_is_done_and_has_no_boxes(tmp_path: Path) -> None:
    project = small_project(tmp_path)
    select_round(project, videos=2, frames=6, progress=False)
    tasks_file = project.round_dir(0) / "export" / "round0_labelstudio_tasks.json"
    tasks = json.loads(tasks_file.read_text())
    export = answer_tasks(tasks, load_ucf101_24_mini())
    (tmp_path / "answers.json").write_text(json.dumps(export))
    import_round(project, 0, [tmp_path / "answers.json"])
    select_round(project, videos=2, frames=6, progress=False)
    backend = Backend(project)
    name = tasks[0]["data"]["video_name"]
    (old,) = backend.predict({"tasks": [task(name, 0)]})["results"]
    assert old == {"model_version": "claus round 1", "score": 1.0, "result": []}
    exported = json.loads((project.round_dir(1) / "export" / "round1_labelstudio_tasks.json")
                          .read_text())  # fmt: skip
    for stored in exported:  # round 1's model boxes, as select exported them with its tasks
        (new,) = backend.predict({"tasks": [task(stored["data"]["video_name"], 1)]})["results"]
        assert new["score"] < 1.0
        assert new["result"] == stored.get("predictions", [{"result": []}])[0]["result"]


def test_a_predict_body_without_tasks_is_refused(project: LabelProject) -> None:
    with pytest.raises(DataError, match="no list 'tasks'"):
        Backend(project).predict({"tasks": "all"})


def test_a_project_without_a_round_is_named(tmp_path: Path) -> None:
    project = small_project(tmp_path)
    with pytest.raises(StoreError, match="no round yet; `claus label select"):
        Backend(project)


class FakeLabelStudio:
    """Label Studio's API as the round uses it: the export, the task import, the version."""

    calls: list[tuple[str, Any]] = []
    export_rows: list[dict[str, Any]] = []
    release = threading.Event()

    def __init__(self, url: str, token: str) -> None:
        self.calls.append(("connect", (url, token)))

    def export(self, project: int) -> Any:
        self.release.wait(60)  # the test holds the round here to send a second request
        self.calls.append(("export", project))
        return self.export_rows

    def import_tasks(self, project: int, tasks: list[dict[str, Any]]) -> None:
        self.calls.append(("import", [t["data"]["video_name"] for t in tasks]))

    def set_model_version(self, project: int, version: str) -> None:
        self.calls.append(("version", version))


def round0_answered_in_label_studio(tmp_path: Path) -> LabelProject:
    """A small project at round 0, whose tasks the fake Label Studio exports answered."""
    project = small_project(tmp_path)
    select_round(project, videos=2, frames=6, progress=False)
    tasks = json.loads((project.round_dir(0) / "export" / "round0_labelstudio_tasks.json")
                       .read_text())  # fmt: skip
    FakeLabelStudio.calls = []
    FakeLabelStudio.export_rows = answer_tasks(tasks, load_ucf101_24_mini())
    return project


def test_start_training_runs_one_round_and_a_second_request_starts_none(tmp_path: Path) -> None:
    project = round0_answered_in_label_studio(tmp_path)
    FakeLabelStudio.release.clear()
    backend = Backend(project, ServeConfig(videos=2, frames=6), api=FakeLabelStudio)
    backend.setup({"project": "7.1796634391", "hostname": "http://127.0.0.1:8080",
                   "access_token": "secret"})  # fmt: skip
    for _ in range(100):  # /setup hands the project's version to Label Studio in a thread
        if ("version", "claus round 0") in FakeLabelStudio.calls:
            break
        threading.Event().wait(0.1)
    assert FakeLabelStudio.calls == [("connect", ("http://127.0.0.1:8080", "secret")),
                                     ("version", "claus round 0")]  # fmt: skip
    FakeLabelStudio.calls.clear()
    assert backend.webhook({"action": "START_TRAINING", "project": {"id": 7}})["started"]
    assert backend.webhook({"action": "START_TRAINING", "project": {"id": 7}})["started"] is False
    FakeLabelStudio.release.set()
    backend.wait(timeout=300)
    assert backend.last_error is None and not backend.busy
    assert [c[0] for c in FakeLabelStudio.calls] == ["connect", "export", "import", "version"]
    assert FakeLabelStudio.calls[0][1] == ("http://127.0.0.1:8080", "secret")
    assert FakeLabelStudio.calls[-1] == ("version", "claus round 1")
    assert FakeLabelStudio.calls[2][1] == list(project.asked(1))
    assert project.annotations(0) is not None and backend.model_version == "claus round 1"
    assert (project.round_dir(0) / "labelstudio_export.json").exists()


def test_a_round_without_label_studio_s_address_says_how_to_connect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "env-token")  # used with --label-studio-url only
    project = small_project(tmp_path)
    select_round(project, videos=2, frames=6, progress=False)
    backend = Backend(project, api=FakeLabelStudio)
    assert backend.start_round()
    backend.wait(timeout=60)
    assert "no Label Studio hostname, access token, project yet" in (backend.last_error or "")
    assert project.annotations(0) is None and len(project.rounds()) == 1


def test_the_server_answers_on_127_0_0_1_and_names_bad_requests(project: LabelProject) -> None:
    server = make_server(Backend(project, ServeConfig(port=0)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    def post(route: str, data: bytes, kind: str = "application/json") -> tuple[int, Any]:
        request = urllib.request.Request(
            url + route, data=data, method="POST", headers={"Content-Type": kind}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    try:
        assert server.server_address[0] == "127.0.0.1"
        with urllib.request.urlopen(url + "/health", timeout=10) as response:
            assert json.loads(response.read())["status"] == "UP"
        status, answer = post("/predict", json.dumps(RECORDED["predict"]).encode())
        assert status == 200 and len(answer["results"]) == len(RECORDED["predict"]["tasks"])
        assert post("/webhook", b'{"action": "PROJECT_UPDATED"}')[0] == 201
        assert post("/predict", b"[1, 2]") == (
            400,
            {"error": "/predict: the body is not a JSON object"},
        )
        assert post("/predict", b"{not json")[0] == 400
        assert post("/train", b"{}")[0] == 404
        # a web page can post text/plain to 127.0.0.1 without asking: refused
        assert post("/setup", b'{"hostname": "http://evil.example"}', "text/plain")[0] == 415
    finally:
        server.shutdown()
        server.server_close()


def test_claus_label_serve_listens_on_127_0_0_1_and_says_where(project: LabelProject) -> None:
    import subprocess
    import sys

    command = [sys.executable, "-m", "claus_core.cli", "label", "serve", str(project.root),
               "--port", "0"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            line = process.stdout.readline() if process.stdout else ""
            url = line.split(" on ")[1].split(" ")[0]
            assert url.startswith("http://127.0.0.1:") and "Connect Model" in line
            with urllib.request.urlopen(url + "/health", timeout=10) as response:
                assert json.loads(response.read())["model_version"] == "claus round 0"
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_the_token_goes_only_to_the_address_label_studio_first_gave(project: LabelProject) -> None:
    """A second /setup naming another host (a page in the browser can post to 127.0.0.1) is
    refused, so the token Label Studio sent is never sent elsewhere."""
    FakeLabelStudio.calls = []
    backend = Backend(project, api=FakeLabelStudio)
    backend.setup({"project": "3.1", "hostname": "http://127.0.0.1:8080", "access_token": "t"})
    with pytest.raises(DataError, match=r"this backend serves 'http://127.0.0.1:8080'"):
        backend.setup({"project": "3.1", "hostname": "http://evil.example", "access_token": "t"})
    with pytest.raises(DataError, match=r"an http:// or https:// URL is needed"):
        Backend(project).setup({"hostname": "file:///etc/passwd"})
    thread = backend._version_thread
    if thread is not None:
        thread.join(10)
    assert {c[1] for c in FakeLabelStudio.calls if c[0] == "connect"} == {
        ("http://127.0.0.1:8080", "t")
    }


class FailingPush(FakeLabelStudio):
    """Label Studio that fails the first task import, as a timeout would."""

    failures = 1

    def import_tasks(self, project: int, tasks: list[dict[str, Any]]) -> None:
        if FailingPush.failures:
            FailingPush.failures -= 1
            raise StoreError("Label Studio POST /api/projects/7/import: timed out")
        super().import_tasks(project, tasks)
        self.calls.append(("scores", [p["score"] for t in tasks for p in t.get("predictions", [])]))


def test_a_round_whose_push_failed_is_pushed_next_time_not_selected_again(tmp_path: Path) -> None:
    project = round0_answered_in_label_studio(tmp_path)
    FakeLabelStudio.release.set()
    backend = Backend(project, ServeConfig(videos=2, frames=6, label_studio_url="http://ls:8080",
                                           api_key="k"), api=FailingPush)  # fmt: skip
    backend._remember_project(7)
    assert backend.start_round()
    backend.wait(timeout=300)
    assert "timed out" in (backend.last_error or "") and project.rounds() == [0, 1]
    assert backend.model_version == "claus round 1"  # the made round is the backend's round
    assert backend.start_round()  # the export holds no task of round 1: push, do not select
    backend.wait(timeout=300)
    assert backend.last_error is None and project.rounds() == [0, 1]
    scores = next(c[1] for c in FakeLabelStudio.calls if c[0] == "scores")
    assert all(0 < score < 1 for score in scores)  # pushed predictions carry CLAUS's order
    assert FakeLabelStudio.calls[-1] == ("version", "claus round 1")
