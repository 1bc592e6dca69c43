"""A Label Studio ML backend over a labeling project: active learning inside Label Studio.

``claus label serve PROJECT`` answers Label Studio 1.23.2's ML-backend contract (issue 27) with
the standard library's HTTP server, so Label Studio asks claus for predictions, sorts its tasks
by them, and tells claus when to run the next round::

    GET  /health    {"status": "UP"}                        at once (Label Studio waits 1 s)
    POST /setup     {"model_version": "claus round R"}       no work (3 s; called before every
                                                             prediction batch); once a round,
                                                             a thread sets the project's
                                                             version (after /predict: Label
                                                             Studio wants predictions of it)
    POST /predict   {"results": [one per task, in order]}   from round R's stored predictions
    POST /webhook   201 at once                             START_TRAINING (or N new
                                                             annotations) starts a round

    START_TRAINING ──> Label Studio's JSON export (its API) ──> claus label import round R
                   ──> claus label select round R + 1 (train, score, cluster, select)
                   ──> round R + 1's tasks imported into Label Studio, with predictions
                   ──> the project's model_version set to "claus round R + 1"

Task ordering (Label Studio's community edition sorts by ascending ``predictions__score``, only
among predictions of the project's ``model_version``): a prediction's score is a *confidence*.
The videos of the latest round get ``(k + 1) / (n + 1)`` in CLAUS's order of choice (``k`` =
0 for the video CLAUS picked first) and that round's model's boxes; every task of an earlier
round 1.0 and no boxes (it was labelled), all of the current version, so "Uncertainty sampling"
and a Data Manager column sorted by prediction score both follow CLAUS.

:class:`Backend` holds the state and answers request bodies (plain dicts, testable without a
socket); :func:`serve` puts it behind HTTP. One round runs at a time, in a background thread; a
request to train while one runs is answered and logged, never queued. The access token Label
Studio sends to ``/setup`` (or ``LABEL_STUDIO_API_KEY``) is kept in memory and never logged.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from claus_core.data.types import DataError
from claus_core.files import StoreError, atomic_write
from claus_core.labeling import rounds
from claus_core.labeling.label_studio import task_round
from claus_core.labeling.project import LabelProject

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 2**20  # a /predict body holds whole tasks; Label Studio batches them
TRAIN_ACTIONS = ("START_TRAINING",)
ANNOTATION_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
API_TIMEOUT_S = 60
VERSION_WAIT_S = 30  # tries, a second apart, to set the project's model version


@dataclass(frozen=True)
class ServeConfig:
    """``claus label serve``'s options: where it listens and what each round asks for.

    ``videos`` / ``frames``: the budget of every round it runs (default: the latest round's);
    ``train_after``: also start a round after this many new annotations (0: only on
    Start Training); ``label_studio_url`` / ``api_key``: Label Studio's address and token when
    they should not come from ``/setup``.
    """

    host: str = "127.0.0.1"
    port: int = 9090
    videos: int | None = None
    frames: int | None = None
    train_after: int = 0
    label_studio_url: str | None = None
    api_key: str | None = None


class _Refuse(urllib.request.HTTPRedirectHandler):
    """No redirect is followed: the token must reach Label Studio's own address only."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:  # fmt: skip
        raise urllib.error.HTTPError(newurl, code, f"redirect refused ({msg})", headers, fp)


_NO_REDIRECTS = urllib.request.build_opener(_Refuse)


def checked_url(url: str) -> str:
    """``url`` when it is an http(s) address; DataError naming it otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DataError(f"Label Studio address {url!r}: an http:// or https:// URL is needed")
    return url.rstrip("/")


class LabelStudioAPI:
    """The three calls a round needs from Label Studio's REST API (token auth)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self._token = token

    def _call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path + query, data=data, method=method,
            headers={"Authorization": f"Token {self._token}", "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with _NO_REDIRECTS.open(request, timeout=API_TIMEOUT_S) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = err.read()[:300].decode("utf-8", "replace")
            raise StoreError(f"Label Studio {method} {path}: {err.code} {detail}") from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as err:
            raise StoreError(f"Label Studio {method} {path}: {err}") from None

    def export(self, project: int) -> Any:
        """Every task of ``project`` with its annotations (Label Studio's JSON export)."""
        return self._call("GET", f"/api/projects/{project}/export", exportType="JSON",
                          download_all_tasks="true")  # fmt: skip

    def import_tasks(self, project: int, tasks: list[dict[str, Any]]) -> None:
        self._call("POST", f"/api/projects/{project}/import", tasks)

    def set_model_version(self, project: int, version: str) -> None:
        self._call("PATCH", f"/api/projects/{project}", {"model_version": version})


@dataclass(frozen=True)
class _Round:
    """What /predict answers from: the latest round, its tasks by video, CLAUS's order."""

    index: int
    tasks: dict[str, dict[str, Any]]  # video name -> its Label Studio task (with predictions)
    rank: dict[str, int]  # video name -> 0 for CLAUS's first choice


def _task_key(task: dict[str, Any]) -> tuple[str, int | None]:
    data = task.get("data") if isinstance(task, dict) else None
    data = data if isinstance(data, dict) else {}
    name = data.get("video_name")
    return (name if isinstance(name, str) else "", task_round(data))


class Backend:
    """The ML backend's state and its answers to Label Studio's request bodies.

    ``api``: how to reach Label Studio, made from ``/setup``'s hostname and token unless the
    config names them (tests pass a fake)."""

    def __init__(
        self,
        project: LabelProject,
        config: ServeConfig = ServeConfig(),
        *,
        api: Callable[[str, str], Any] = LabelStudioAPI,
    ) -> None:
        self.project = project
        self.config = config
        self._make_api = api
        self._connection: dict[str, Any] = {}  # Label Studio project id, hostname, token
        self._lock = threading.Lock()  # held while a round runs
        self._thread: threading.Thread | None = None
        self._new_annotations = 0
        self._version_set: int | None = None  # the round whose version Label Studio was given
        self._version_lock = threading.Lock()  # guards _version_thread (held briefly)
        self._push_lock = threading.Lock()  # one model-version write to Label Studio at a time
        self._version_thread: threading.Thread | None = None
        self.last_error: str | None = None
        self._load_round()

    # ---- the current round ----------------------------------------------------------------

    def _load_round(self) -> None:
        """Round R's tasks, predictions and CLAUS's order of its videos (R: the latest)."""
        known = self.project.rounds()
        if not known:
            raise StoreError(
                f"{self.project.root}: no round yet; `claus label select {self.project.root} "
                "--videos N --frames M` makes round 0 first"
            )
        current = known[-1]
        tasks = {
            task["data"]["video_name"]: task
            for task in rounds.label_studio_tasks(self.project, current)
        }
        records = self.project.request(current).get("records") or []
        order = list(dict.fromkeys(r.get("video") for r in records if isinstance(r, dict)))
        order = [n for n in order if n in tasks]
        order += [n for n in tasks if n not in order]
        rank = {name: k for k, name in enumerate(order)}
        self._state = _Round(current, tasks, rank)  # one assignment: /predict sees old or new

    @property
    def round(self) -> int:
        return self._state.index

    @property
    def model_version(self) -> str:
        return rounds.model_version(self._state.index)

    def score(self, name: str, index: int | None, state: _Round | None = None) -> float:
        """Confidence of a task: lowest for the video CLAUS wants labelled first (module
        docstring); 1.0 for a task of an earlier round or of no project video."""
        state = state or self._state
        if index in (None, state.index) and name in state.rank:
            return (state.rank[name] + 1) / (len(state.rank) + 1)
        return 1.0

    # ---- the contract -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {"status": "UP", "model_class": "claus", "model_version": self.model_version}

    def setup(self, body: dict[str, Any]) -> dict[str, Any]:
        """Remember Label Studio's project, address and token (no work: 3 s limit)."""
        hostname, token = body.get("hostname"), body.get("access_token")
        if not self.config.label_studio_url and isinstance(hostname, str) and hostname:
            pinned = self._connection.setdefault("hostname", checked_url(hostname))
            if checked_url(hostname) != pinned:  # the token goes to the first address only
                raise DataError(
                    f"/setup: Label Studio at {hostname!r}, but this backend serves {pinned!r} "
                    "(restart it to serve another)"
                )
        if isinstance(token, str) and token:
            self._connection["access_token"] = token
        self._remember_project(body.get("project"))
        self._give_version()
        return {"model_version": self.model_version}

    def _give_version(self) -> None:
        """Make the current round's model the project's ``model_version`` (Label Studio shows
        and sorts by the scores of that version only), off the request's thread, once a round."""
        with self._version_lock:
            if self._version_set == self.round or self._version_thread is not None:
                return
            self._version_thread = threading.Thread(
                target=self._set_version, args=(self.round,), name="claus-version", daemon=True
            )
            self._version_thread.start()

    def _set_version(self, index: int) -> None:
        """Label Studio accepts a version only once predictions of it exist (its
        ``validate_model_version``): those of a /predict are stored just after its answer, so a
        refusal is retried every second for ``VERSION_WAIT_S``."""
        version = rounds.model_version(index)
        try:
            for attempt in range(VERSION_WAIT_S):
                if index != self.round:  # a round ran meanwhile and gave its own version
                    return
                try:
                    api, project = self._api()
                    with self._push_lock:  # not _version_lock: /setup must never wait
                        if index != self.round:
                            return
                        api.set_model_version(project, version)
                        self._version_set = index
                except (StoreError, DataError) as err:
                    if attempt + 1 == VERSION_WAIT_S:
                        logger.warning("the project's model version is not set: %s", err)
                    threading.Event().wait(1.0)
                    continue
                logger.info("Label Studio project %d: model version %r", project, version)
                return
        finally:
            with self._version_lock:
                self._version_thread = None

    def _remember_project(self, value: Any) -> None:
        """Label Studio names its project ``"<id>.<created, epoch seconds>"`` in /setup and
        /predict, and as ``{"id": ...}`` in webhooks; the API wants the id."""
        if isinstance(value, dict):
            value = value.get("id")
        head = str(value).split(".")[0] if isinstance(value, int | str) else ""
        if head.isdigit():
            self._connection["project"] = int(head)

    def predict(self, body: dict[str, Any]) -> dict[str, Any]:
        """One prediction per task, in task order: the round's stored boxes and the score."""
        tasks = body.get("tasks")
        if not isinstance(tasks, list):
            raise DataError("/predict: the body has no list 'tasks'")
        self._remember_project(body.get("project"))
        state = self._state
        results = []
        for task in tasks:
            name, index = _task_key(task)
            current = index in (None, state.index)  # a task of an earlier round: done, no boxes
            stored = state.tasks.get(name) if current else None
            regions = stored.get("predictions", [{}])[0].get("result", []) if stored else []
            results.append({"model_version": rounds.model_version(state.index),
                            "score": self.score(name, index, state), "result": regions})  # fmt: skip
        if self._connection.get("hostname") or self.config.label_studio_url:
            self._give_version()  # valid once Label Studio has stored these predictions
        return {"results": results}

    def webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start a round on START_TRAINING (or after ``train_after`` new annotations)."""
        action = body.get("action")
        self._remember_project(body.get("project"))
        if action in ANNOTATION_ACTIONS:
            self._new_annotations += 1
            if not self.config.train_after or self._new_annotations < self.config.train_after:
                return {"action": action, "started": False}
        elif action not in TRAIN_ACTIONS:
            return {"action": action, "started": False}
        return {"action": action, "started": self.start_round()}

    # ---- a round in the background ----------------------------------------------------------

    def start_round(self) -> bool:
        """Start the next round in a background thread; False when one is running."""
        if not self._lock.acquire(blocking=False):
            logger.warning("a round is running (after %s); this request starts none",
                           self.model_version)  # fmt: skip
            return False
        self._new_annotations = 0
        self._thread = threading.Thread(target=self._run_round, name="claus-round", daemon=True)
        self._thread.start()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Until the running round (if any) ends."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def _api(self) -> tuple[Any, int]:
        if self.config.label_studio_url:  # the user's address: the user's token may go there
            url = checked_url(self.config.label_studio_url)
            token = (
                self.config.api_key
                or os.environ.get("LABEL_STUDIO_API_KEY")
                or self._connection.get("access_token")
            )
        else:  # the address Label Studio gave, with the token it gave
            url, token = self._connection.get("hostname"), self._connection.get("access_token")
        project = self._connection.get("project")
        if not (url and token and project):
            missing = [n for n, v in (("hostname", url), ("access token", token),
                                      ("project", project)) if not v]  # fmt: skip
            raise StoreError(
                f"no Label Studio {', '.join(missing)} yet: connect the backend in the project's "
                "Model settings (Label Studio calls /setup), or pass --label-studio-url and set "
                "LABEL_STUDIO_API_KEY"
            )
        return self._make_api(url, token), project

    def _run_round(self) -> None:
        try:
            self.run_round()
            self.last_error = None
        except (DataError, StoreError, ValueError) as err:
            self.last_error = str(err)
            logger.error("the round after %s did not run: %s", self.model_version, err)
        except Exception as err:  # a background thread must say what ended it
            self.last_error = f"{type(err).__name__}: {err}"
            logger.exception("the round after %s failed", self.model_version)
        finally:
            self._lock.release()

    def run_round(self) -> int:
        """Import round R from Label Studio, select round R + 1, hand its tasks to Label Studio
        and make its model the project's version. Returns R + 1."""
        api, ls_project = self._api()
        index = self.round
        payload = api.export(ls_project)
        if index > 0 and not _has_round(payload, index):  # made, but never handed over
            logger.warning("round %d's tasks are not in Label Studio (an earlier push failed); "
                           "pushing them, not training", index)  # fmt: skip
            self._push(api, ls_project)
            return index
        export = self.project.round_dir(index) / "labelstudio_export.json"
        atomic_write(export, lambda tmp: tmp.write_text(json.dumps(payload), encoding="utf-8"))
        replace = self.project.annotations(index) is not None
        rounds.import_round(self.project, index, [export], replace=replace)
        logger.info("round %d imported from Label Studio project %d", index, ls_project)
        budget = self.project.request(index)["budget"]
        new = rounds.select_round(
            self.project,
            videos=self.config.videos or int(budget["videos"]),
            frames=self.config.frames or int(budget["frames"]),
            progress=False,
        )
        self._load_round()  # round R + 1 is made: a failed push is retried, never re-selected
        self._push(api, ls_project)
        return new

    def _push(self, api: Any, ls_project: int) -> None:
        """The current round's tasks into Label Studio, their predictions scored (it does not
        ask /predict again for a task with a prediction of the current version), and the
        round's model version on the project."""
        state = self._state
        tasks = json.loads(json.dumps(list(state.tasks.values())))
        for task in tasks:
            for prediction in task.get("predictions", []):
                prediction["score"] = self.score(task["data"]["video_name"], state.index, state)
        api.import_tasks(ls_project, tasks)
        with self._push_lock:
            api.set_model_version(ls_project, rounds.model_version(state.index))
            self._version_set = state.index
        logger.info("round %d: %d tasks in Label Studio, model version %r", state.index,
                    len(tasks), rounds.model_version(state.index))  # fmt: skip


def _has_round(payload: Any, index: int) -> bool:
    """Whether Label Studio's export holds a task of claus round ``index``."""
    rows = payload if isinstance(payload, list) else []
    return any(_task_key(row)[1] == index for row in rows if isinstance(row, dict))


class _Handler(BaseHTTPRequestHandler):
    backend: Backend  # set on the subclass :func:`make_server` builds

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base's name)
        logger.debug("%s " + format, self.address_string(), *args)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        if self.path.split("?")[0] in ("/", "/health"):
            self._answer(HTTPStatus.OK, self.backend.health())
        else:
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"no GET {self.path}"})

    def do_POST(self) -> None:  # noqa: N802
        route = self.path.split("?")[0]
        answers = {"/setup": self.backend.setup, "/predict": self.backend.predict,
                   "/webhook": self.backend.webhook}  # fmt: skip
        if route not in answers:
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"no POST {route}"})
            return
        if self.headers.get_content_type() != "application/json":  # no cross-site form posts
            self._answer(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send application/json"})
            return
        try:
            length = int(self.headers.get("Content-Length", 0))
            if not 0 <= length <= MAX_BODY_BYTES:
                raise DataError(f"{route}: a body of {length} bytes")
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise DataError(f"{route}: the body is not a JSON object")
            answer = answers[route](body)
        except (DataError, ValueError) as err:
            logger.warning("%s: refused (%s)", route, err)
            self._answer(HTTPStatus.BAD_REQUEST, {"error": str(err)})
            return
        status = HTTPStatus.CREATED if route == "/webhook" else HTTPStatus.OK
        self._answer(status, answer)


def make_server(backend: Backend) -> ThreadingHTTPServer:
    """The HTTP server of ``backend`` on its config's host and port (not yet serving)."""
    handler = type("Handler", (_Handler,), {"backend": backend})
    address = (backend.config.host, backend.config.port)
    try:
        return ThreadingHTTPServer(address, handler)
    except OSError as err:
        raise StoreError(f"cannot listen on {address[0]}:{address[1]} ({err})") from None


def serve(
    root: str | Path, config: ServeConfig = ServeConfig(), *, ready: Callable[[str], None] = print
) -> None:
    """``claus label serve``: answer Label Studio until interrupted; ``ready`` gets the URL
    (the port the system chose when the config's is 0) once the server listens."""
    backend = Backend(LabelProject(root), config)
    server = make_server(backend)
    host, port = server.server_address[:2]
    logger.info("%s: round %d, model version %r", root, backend.round, backend.model_version)
    ready(f"http://{host}:{port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopped")
    finally:
        server.server_close()
