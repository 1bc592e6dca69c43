"""The labeling loop against a real Label Studio server on 127.0.0.1 (``make test-labelstudio``).

Starts ``label-studio`` (from its own virtual environment: ``--label-studio PATH``) on a free
loopback port with the project folder as its local-files document root, then, with the real mini
videos::

    claus label init + transcode     a project of the 16 videos, H.264 copies in PROJECT/media
    claus label select (round 0)     tasks for round 0
    Label Studio                     a project with claus's labeling config, one local-files
                                     storage on PROJECT/media; the tasks imported; every task's
                                     video fetched through the server
    annotate through the REST API    the simulated annotator's regions (real ground truth)
    export JSON and JSON_MIN         the server's own exports
    claus label import (round 0)     from the JSON export; the JSON_MIN one reads the same
    claus label select (round 1)     trains on the human boxes, asks again (with predictions)
    claus as the ML backend          round 1's tasks imported without predictions; the backend
                                     (claus_core.labeling.backend) connected through /api/ml;
                                     predictions retrieved and checked as stored; the Data
                                     Manager sorted by prediction score and uncertainty
                                     sampling's /next in CLAUS's order; annotations posted
                                     (ANNOTATION_CREATED webhooks); Start Training: the backend
                                     imports round 1 from the server's export, selects round 2,
                                     imports its tasks and sets the project's model version
    claus label status

Every wait is bounded and the server is stopped whatever happens. ``--fixtures DIR`` also writes
small real exports (one task annotated twice, a ground-truth annotation, a cancelled one, a task
with predictions only) and the request bodies the server sent the backend
(``backend_requests.json``, token replaced) for the unit tests. Prints one line per step with
its seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD, TOKEN = "claus@example.com", "claus-live-test-pw", "claus0live0test0token0"
START_TIMEOUT_S = 240
HIDDEN_COLUMNS = [  # the Data Manager view shows the video, its round and the prediction score
    f"tasks:{c}"
    for c in (
        "annotations_results annotations_ids predictions_results file_upload storage_filename "
        "created_at updated_at updated_by avg_lead_time draft_exists total_predictions "
        "cancelled_annotations annotators completed_at inner_id data.video "
        "data.frames_to_annotate data.frames_to_annotate_text data.framerate"
    ).split()
]
REQUEST_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def log(step: str, started: float) -> None:
    sys.stdout.write(f"{step}: {time.perf_counter() - started:.1f} s\n")
    sys.stdout.flush()


class LabelStudio:
    """A Label Studio server on 127.0.0.1 and a REST client of it (legacy token auth)."""

    def __init__(self, executable: Path, data_dir: Path, document_root: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(
            os.environ,
            LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
            LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(document_root),
            LABEL_STUDIO_USERNAME=USER,
            LABEL_STUDIO_PASSWORD=PASSWORD,
            LABEL_STUDIO_USER_TOKEN=TOKEN,
            LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
            SENTRY_DSN="",
            FRONTEND_SENTRY_DSN="",
            # both are needed for an ML backend on 127.0.0.1 (the first alone still refuses
            # the webhook that connecting the backend creates)
            ML_BLOCK_LOCAL_IP="false",
            SSRF_PROTECTION_ENABLED="false",
        )
        command = [
            str(executable), "start", "--no-browser", "--data-dir", str(data_dir),
            "--host", self.url, "--internal-host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        self.log_path = data_dir / "server.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        self.headers = {"Authorization": f"Token {TOKEN}"}

    def wait_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"label-studio exited ({self.process.returncode}); see {self.log_path}"
                )
            try:
                if requests.get(self.url + "/health", timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(2)
        else:
            raise TimeoutError(
                f"label-studio did not answer /health in {START_TIMEOUT_S} s; see {self.log_path}"
            )
        self._enable_token()

    def _enable_token(self) -> None:
        """Log in with the password and turn legacy API tokens on (1.23 turns them off)."""
        session = self.logged_in()
        session.post(
            self.url + "/api/jwt/settings",
            json={
                "api_tokens_enabled": True,
                "legacy_api_tokens_enabled": True,
                "api_token_ttl_days": 30,
            },
            headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": self.url},
            timeout=REQUEST_TIMEOUT_S,
        ).raise_for_status()

    def logged_in(self) -> requests.Session:
        """A session logged in with the password, as the browser's login form does."""
        session = requests.Session()
        session.get(self.url + "/user/login/", timeout=REQUEST_TIMEOUT_S)
        session.post(
            self.url + "/user/login/",
            data={
                "email": USER,
                "password": PASSWORD,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": self.url + "/user/login/"},
            timeout=REQUEST_TIMEOUT_S,
            allow_redirects=False,
        ).raise_for_status()
        return session

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(
            method, self.url + path, headers=self.headers, timeout=REQUEST_TIMEOUT_S, **kwargs
        )
        if not response.ok:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._log.close()

    # ---- the calls the loop needs ----

    def new_project(self, title: str, config_xml: str, media: Path) -> int:
        project = self.call(
            "POST", "/api/projects", json={"title": title, "label_config": config_xml}
        ).json()
        storage = {
            "project": project["id"],
            "path": str(media),
            "title": "media",
            "use_blob_urls": True,
        }
        self.call("POST", "/api/storages/localfiles", json=storage)
        return int(project["id"])

    def import_tasks(self, project: int, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.call("POST", f"/api/projects/{project}/import", json=tasks)
        found = self.call(
            "GET", "/api/tasks", params={"project": project, "page_size": 1000}
        ).json()
        return found["tasks"] if isinstance(found, dict) else found

    def annotate(self, task: int, result: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        return self.call(
            "POST", f"/api/tasks/{task}/annotations", json={"result": result, **fields}
        ).json()

    def export(self, project: int, kind: str) -> Any:
        """The project's export; every task, annotated or not (``download_all_tasks``)."""
        params = {"exportType": kind, "download_all_tasks": "true"}
        return self.call("GET", f"/api/projects/{project}/export", params=params).json()


def claus(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "claus_core.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"claus {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def one_round(
    server: LabelStudio, project_dir: Path, ls_project: int, index: int, out: Path
) -> None:
    """Import round ``index``'s tasks, annotate them through the API, export, claus label import."""
    from claus_core.data.ucf101_24 import load_ucf101_24_mini
    from claus_core.labeling import LabelProject
    from claus_core.labeling.rounds import read_round_files
    from claus_core.labeling.simulate import answer_tasks

    started = time.perf_counter()
    tasks_file = project_dir / f"round{index}" / "export" / f"round{index}_labelstudio_tasks.json"
    tasks = json.loads(tasks_file.read_text())
    imported = [
        t for t in server.import_tasks(ls_project, tasks) if t["data"].get("claus_round") == index
    ]
    for task in imported:  # the browser's request for the video, through the server
        response = requests.get(
            server.url + task["data"]["video"], headers=server.headers, timeout=REQUEST_TIMEOUT_S
        )
        if response.status_code != 200 or not response.content.startswith(b"\x00\x00\x00"):
            raise RuntimeError(f"{task['data']['video']}: the server gave {response.status_code}")
    log(f"round {index}: {len(imported)} tasks imported, every video served (200, MP4)", started)
    answers = answer_tasks([{"data": t["data"]} for t in imported], load_ucf101_24_mini())
    for task, answer in zip(imported, answers, strict=True):
        server.annotate(task["id"], answer["annotations"][0]["result"], lead_time=30.0)
    log(f"round {index}: {len(imported)} annotations posted", started)
    for kind in ("JSON", "JSON_MIN"):
        rows = server.export(ls_project, kind)  # every round's tasks: import skips the others
        (out / f"round{index}_{kind.lower()}.json").write_text(json.dumps(rows, indent=1))
    log(f"round {index}: exported JSON and JSON_MIN", started)
    sys.stdout.write(
        claus(
            "label",
            "import",
            str(project_dir),
            "--round",
            str(index),
            str(out / f"round{index}_json.json"),
        )
    )
    project = LabelProject(project_dir)
    from_min = read_round_files(project, index, [out / f"round{index}_json_min.json"])
    from_json = project.annotations(index)
    assert from_json is not None
    same = {n: v.to_dict() for n, v in from_min.videos.items()} == {
        n: v.to_dict() for n, v in from_json.videos.items()
    }
    if not same:
        raise RuntimeError(f"round {index}: the JSON and JSON_MIN exports read differently")
    log(f"round {index}: claus label import; JSON_MIN reads the same annotations", started)


def wait_for(what: str, check: Any, timeout_s: float = 120.0, every_s: float = 1.0) -> Any:
    """``check()``'s first truthy value, polled; TimeoutError naming ``what`` after
    ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")


class Recorder:
    """The request bodies Label Studio sent the backend, by route (for the unit tests)."""

    def __init__(self, backend: Any) -> None:
        self.bodies: dict[str, list[Any]] = {}
        for route in ("setup", "predict", "webhook"):
            answer = getattr(backend, route)

            def recorded(body: dict[str, Any], route: str = route, answer: Any = answer) -> Any:
                self.bodies.setdefault(route, []).append(body)
                return answer(body)

            setattr(backend, route, recorded)

    def write(self, target: Path) -> None:
        """One example body per route and action; the access token replaced."""
        target.mkdir(parents=True, exist_ok=True)
        kept: dict[str, Any] = {}
        for route, bodies in self.bodies.items():
            for body in bodies:
                key = route if route != "webhook" else f"webhook_{body.get('action')}"
                kept.setdefault(key, body)
        text = json.dumps(kept, indent=1).replace(TOKEN, "TOKEN")
        (target / "backend_requests.json").write_text(text)


def data_manager_screenshot(server: LabelStudio, ls_project: int, view: int, path: Path) -> None:
    """The Data Manager tab ``view`` as a person sees it, in headless Chromium (Playwright)."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "scripts"))
    from check_book import LAUNCH_ARGS, chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=LAUNCH_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1500, "height": 640})
            session = server.logged_in()  # its cookies log the browser in
            context.add_cookies([{"name": c.name, "value": c.value or "", "url": server.url}
                                 for c in session.cookies])  # fmt: skip
            page = context.new_page()
            page.goto(f"{server.url}/projects/{ls_project}/data?tab={view}", timeout=60_000)
            page.get_by_text("claus round 1").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)  # the video thumbnails settle
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path))
        finally:
            browser.close()


def backend_rounds(
    server: LabelStudio,
    project_dir: Path,
    ls_project: int,
    record: Path | None,
    screenshot: Path | None = None,
) -> None:
    """Round 1 with claus as Label Studio's ML backend: connect it, retrieve predictions, check
    the order Label Studio shows, annotate (webhooks), Start Training, and round 2 arrives."""
    import threading

    from claus_core.data.ucf101_24 import load_ucf101_24_mini
    from claus_core.labeling import LabelProject
    from claus_core.labeling.backend import Backend, ServeConfig, make_server
    from claus_core.labeling.simulate import answer_tasks

    started = time.perf_counter()
    backend = Backend(
        LabelProject(project_dir), ServeConfig(port=_free_port(), videos=3, frames=30)
    )
    recorder = Recorder(backend)
    http = make_server(backend)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{http.server_address[1]}"
        tasks_file = project_dir / "round1" / "export" / "round1_labelstudio_tasks.json"
        tasks = [t for t in json.loads(tasks_file.read_text())]
        for task in tasks:
            task.pop("predictions", None)  # the backend gives them now
        imported = [
            t for t in server.import_tasks(ls_project, tasks) if t["data"].get("claus_round") == 1
        ]
        ml = server.call(
            "POST", "/api/ml", json={"url": url, "project": ls_project, "title": "claus"}
        ).json()
        state = server.call("GET", f"/api/ml/{ml['id']}").json()
        if state.get("state") != "CO":
            raise RuntimeError(f"the backend is not connected: {state}")
        log(f"round 1: claus label serve connected (state CO, version {backend.model_version!r})",
            started)  # fmt: skip
        every = server.call("GET", "/api/tasks", params={"project": ls_project, "page_size": 1000})
        every = every.json()["tasks"]
        server.call(
            "POST", "/api/dm/actions", params={"id": "retrieve_tasks_predictions",
                                               "project": ls_project},
            json={"selectedItems": {"all": True, "excluded": []}},
        )  # fmt: skip

        def stored() -> list[dict[str, Any]]:
            rows = server.call("GET", "/api/predictions", params={"project": ls_project}).json()
            return [p for p in rows if p.get("model_version") == "claus round 1"]

        predictions = wait_for(
            "predictions of claus round 1", lambda: len(stored()) >= len(every) and stored()
        )
        of_task = {t["id"]: (t["data"]["video_name"], t["data"]["claus_round"]) for t in every}
        for prediction in predictions:
            name, index = of_task[prediction["task"]]
            if abs(prediction["score"] - backend.score(name, index)) > 1e-6:
                raise RuntimeError(f"{name}: stored score {prediction['score']} != "
                                   f"{backend.score(name, index)}")  # fmt: skip
            for region in prediction["result"]:
                if min(s["frame"] for s in region["value"]["sequence"]) < 1:
                    raise RuntimeError(f"{name}: a 0-based frame in a stored prediction")
        log(f"round 1: {len(predictions)} predictions stored (score, version, 1-based frames)",
            started)  # fmt: skip
        wait_for("the project's model version, set by the backend", lambda: server.call(
            "GET", f"/api/projects/{ls_project}").json().get("model_version") == "claus round 1",
            timeout_s=60)  # fmt: skip
        log("round 1: the backend set the project's model version 'claus round 1'", started)
        expected = {t["data"]["video_name"]: backend.score(t["data"]["video_name"], 1)
                    for t in imported}  # fmt: skip
        claus_order = sorted(expected, key=expected.get)
        view = server.call("POST", "/api/dm/views", json={"project": ls_project, "data": {
            "ordering": ["tasks:predictions_score"],
            "hiddenColumns": {"explore": HIDDEN_COLUMNS, "labeling": HIDDEN_COLUMNS},
        }}).json()  # fmt: skip
        listed = server.call("GET", "/api/tasks", params={
            "view": view["id"], "project": ls_project, "page_size": 1000}).json()  # fmt: skip
        listed = listed["tasks"] if isinstance(listed, dict) else listed
        shown = [t["data"]["video_name"] for t in listed][: len(claus_order)]
        if shown != claus_order:
            raise RuntimeError(f"Data Manager by prediction score: {shown}, CLAUS: {claus_order}")
        log("round 1: the Data Manager sorted by prediction score shows CLAUS's order on top",
            started)  # fmt: skip
        if screenshot is not None:
            data_manager_screenshot(server, ls_project, view["id"], screenshot)
            log(f"round 1: the Data Manager photographed in {screenshot}", started)
        server.call(
            "PATCH", f"/api/projects/{ls_project}", json={"sampling": "Uncertainty sampling"}
        )
        following = server.call("GET", f"/api/projects/{ls_project}/next").json()
        if following["data"]["video_name"] != claus_order[0]:
            raise RuntimeError(f"/next gave {following['data']['video_name']}, "
                               f"CLAUS ranks {claus_order[0]} first")  # fmt: skip
        log(f"round 1: uncertainty sampling's next task is CLAUS's first ({claus_order[0]})",
            started)  # fmt: skip
        answers = answer_tasks([{"data": t["data"]} for t in imported], load_ucf101_24_mini())
        for task, answer in zip(imported, answers, strict=True):
            server.annotate(task["id"], answer["annotations"][0]["result"], lead_time=30.0)
        wait_for("an ANNOTATION_CREATED webhook", lambda: any(
            b.get("action") == "ANNOTATION_CREATED" for b in recorder.bodies.get("webhook", [])),
            timeout_s=60)  # fmt: skip
        log(f"round 1: {len(imported)} annotations posted, the webhook arrived", started)
        server.call("POST", f"/api/ml/{ml['id']}/train", json={})
        wait_for("START_TRAINING at the webhook", lambda: any(
            b.get("action") == "START_TRAINING" for b in recorder.bodies.get("webhook", [])),
            timeout_s=60)  # fmt: skip
        version = wait_for("the project's model version claus round 2", lambda: (
            server.call("GET", f"/api/projects/{ls_project}").json().get("model_version")
            == "claus round 2") and "claus round 2", timeout_s=600, every_s=3)  # fmt: skip
        if backend.last_error:
            raise RuntimeError(f"the round failed: {backend.last_error}")
        log(f"round 2 selected by Start Training; project version {version!r}", started)
        round2 = [t for t in server.call("GET", "/api/tasks", params={
            "project": ls_project, "page_size": 1000}).json()["tasks"]
            if t["data"].get("claus_round") == 2]  # fmt: skip
        server.call(
            "POST", "/api/dm/actions", params={"id": "retrieve_tasks_predictions",
                                               "project": ls_project},
            json={"selectedItems": {"all": False, "included": [t["id"] for t in round2]}},
        )  # fmt: skip
        of_round2 = {t["id"] for t in round2}

        def stored2() -> list[dict[str, Any]]:
            rows = server.call("GET", "/api/predictions", params={"project": ls_project}).json()
            return [p for p in rows if p.get("model_version") == "claus round 2"
                    and p["task"] in of_round2]  # fmt: skip

        rows = wait_for("predictions of claus round 2", lambda: len(stored2()) >= len(round2)
                        and stored2())  # fmt: skip
        if not all(isinstance(p.get("score"), float) and p["score"] < 1 for p in rows):
            raise RuntimeError(
                f"round 2's predictions lack CLAUS's scores: {[p.get('score') for p in rows]}"
            )
        log(f"round 2: {len(round2)} tasks in Label Studio, predictions of claus round 2 stored "
            "with CLAUS's scores", started)  # fmt: skip
    finally:
        http.shutdown()
        http.server_close()
    if record is not None:
        recorder.write(record)


def fixtures(server: LabelStudio, project_dir: Path, ls_project: int, target: Path) -> None:
    """Small real exports with every case the importer chooses between."""
    from claus_core.data.ucf101_24 import load_ucf101_24_mini
    from claus_core.labeling.simulate import answer_tasks

    tasks = json.loads(
        (project_dir / "round0" / "export" / "round0_labelstudio_tasks.json").read_text()
    )[:4]
    answers = answer_tasks(tasks, load_ucf101_24_mini())
    for task in tasks:
        task["data"]["claus_round"] = "fixtures"
    tasks[3]["predictions"] = [
        {"model_version": "claus round 0", "result": answers[3]["annotations"][0]["result"]}
    ]
    config = (project_dir / "round0" / "export" / "round0_labelstudio_config.xml").read_text()
    fixture_project = server.new_project("claus fixtures", config, project_dir / "media")
    first, second, third, _predictions_only = server.import_tasks(fixture_project, tasks)
    result = answers[0]["annotations"][0]["result"]
    server.annotate(first["id"], result)  # annotated twice: the later one counts
    moved = json.loads(json.dumps(result))
    for region in moved:
        region["value"]["sequence"][0]["x"] += 1.0
    time.sleep(1.1)
    server.annotate(first["id"], moved)
    truth = server.annotate(second["id"], answers[1]["annotations"][0]["result"])  # ground truth
    time.sleep(1.1)
    server.annotate(second["id"], [])  # later, but not the ground truth
    server.call("PATCH", f"/api/annotations/{truth['id']}", json={"ground_truth": True})
    server.annotate(third["id"], [], was_cancelled=True)  # skipped
    target.mkdir(parents=True, exist_ok=True)
    (target / "tasks.json").write_text(json.dumps(tasks, indent=1))
    for kind in ("JSON", "JSON_MIN"):
        (target / f"export_{kind.lower()}.json").write_text(
            json.dumps(server.export(fixture_project, kind), indent=1)
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--label-studio", type=Path, required=True, help="the label-studio executable"
    )
    parser.add_argument("--work", type=Path, required=True, help="an empty scratch folder")
    parser.add_argument("--fixtures", type=Path, help="also write the fixture exports here")
    parser.add_argument(
        "--screenshot", type=Path, help="also photograph the Data Manager (PNG; Chromium)"
    )
    args = parser.parse_args()
    work = args.work.resolve()
    project_dir, out = work / "project", work / "exports"
    out.mkdir(parents=True, exist_ok=True)
    classes = work / "classes.txt"
    classes.write_text(
        "\n".join(
            sorted(
                {p.parent.name for p in (ROOT / "data" / "ucf101_24_mini").rglob("*.avi")}
                | {p.parent.name for p in (ROOT / "data" / "ucf101_24_mini").rglob("*.mp4")}
            )
        )
        + "\n"
    )
    started = time.perf_counter()
    claus(
        "label",
        "init",
        str(project_dir),
        "--videos",
        str(ROOT / "data" / "ucf101_24_mini"),
        "--classes",
        str(classes),
    )
    claus("label", "transcode", str(project_dir))
    claus("label", "select", str(project_dir), "--videos", "5", "--frames", "25", "--quiet")
    log("init, transcode, round 0 selected", started)
    server = LabelStudio(args.label_studio, work / "label-studio", project_dir)
    try:
        server.wait_up()
        log(f"label-studio up on {server.url}", started)
        config = (project_dir / "round0" / "export" / "round0_labelstudio_config.xml").read_text()
        ls_project = server.new_project("claus live", config, project_dir / "media")
        one_round(server, project_dir, ls_project, 0, out)
        round_started = time.perf_counter()
        claus("label", "select", str(project_dir), "--videos", "3", "--frames", "30", "--quiet")
        tasks = json.loads(
            (project_dir / "round1" / "export" / "round1_labelstudio_tasks.json").read_text()
        )
        if not all(t.get("predictions") for t in tasks):
            raise RuntimeError("round 1's tasks carry no model predictions")
        log("round 1 selected (trained on the human boxes), with predictions", round_started)
        backend_rounds(server, project_dir, ls_project, args.fixtures, args.screenshot)
        log("round 1 with claus as the ML backend, round 2 by Start Training", round_started)
        if args.fixtures is not None:
            fixtures(server, project_dir, ls_project, args.fixtures)
            log(f"fixtures written to {args.fixtures}", started)
        sys.stdout.write(claus("label", "status", str(project_dir)))
    finally:
        server.stop()
    log("label-studio stopped; total", started)
    shutil.rmtree(work / "label-studio" / "media", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
