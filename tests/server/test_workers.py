"""`emploi-store serve --workers 2` as an operator runs it: both workers answer, /metrics adds up
their figures (Prometheus multiprocess mode, in a folder the command makes and removes), every
log line is JSON, and SIGTERM stops everything cleanly."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port

STARTUP_SECONDS = 60
STOP_SECONDS = 15


def healthz_count(metrics: str) -> float:
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "emploi_store_http_requests_total" and sample.labels == {
                "method": "GET",
                "route": "/healthz",
                "status": "200",
            }:
                return sample.value
    return 0.0


def log_lines(path: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().split("\n") if line]


def serving_pids(metrics_dir: pathlib.Path) -> set[str]:
    """Workers that have counted a request: each writes its own counter_<pid>.db."""
    return {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}


def test_two_workers_answer_and_metrics_add_up(settings, db, tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PROMETHEUS_MULTIPROC_DIR", "LOG_FORMAT", "LOG_LEVEL", "WORKERS")
    }
    env.update(
        DATABASE_URL=settings.database_url,
        VAR_DIR=str(settings.var_dir),
        SECRET_KEY="test-secret",
        RECOMMENDER_MODEL_DIR=str(settings.recommender_model_dir),
    )
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "server.cli", "serve", "--workers", "2", "--port", str(port)]
    with log_path.open("w") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    answered = 0  # GET /healthz answered 200, all workers together
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                    answered += 1
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the server did not start:\n" + log_path.read_text()
            time.sleep(0.2)

        (announced,) = [line for line in log_lines(log_path) if "metrics_dir" in line]
        metrics_dir = pathlib.Path(announced["metrics_dir"])
        assert metrics_dir.is_dir()

        # Fresh connections, many at once, until the kernel has handed some to each worker.
        with ThreadPoolExecutor(max_workers=20) as pool:
            for _ in range(30):
                statuses = pool.map(lambda _: httpx.get(base + "/healthz", timeout=10).status_code, range(20))
                answered += sum(status == 200 for status in statuses)
                if len(serving_pids(metrics_dir)) == 2:
                    break
        assert len(serving_pids(metrics_dir)) == 2, "one worker answered everything"

        with httpx.Client(base_url=base, timeout=10) as http:
            graphql = http.post("/graphql", json={"query": "{ categories { slug } }"})
            assert graphql.json() == {"data": {"categories": []}}
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.text
        # Whichever worker answers a scrape (each on a new connection), it counts every worker's requests.
        for _ in range(4):
            metrics = httpx.get(base + "/metrics", timeout=10).text
            assert healthz_count(metrics) == answered
        assert 'route="/graphql"' in metrics

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    lines = log_lines(log_path)  # every line is JSON
    messages = [line["message"] for line in lines]
    # Each worker ran its own lifespan (database, scheduler, model watcher), up and down.
    assert sum("Application startup complete" in m for m in messages) == 2, messages
    assert sum("Application shutdown complete" in m for m in messages) == 2, messages
    access = [line for line in lines if line["logger"] == "emploi_store.access"]
    assert len(access) >= answered and all(len(line["request_id"]) == 32 for line in access)
    assert not [line for line in lines if line["level"] in ("ERROR", "CRITICAL")], lines
    assert not metrics_dir.exists()  # the command's own folder goes with it


def test_an_operators_metrics_folder_is_emptied_at_start(tmp_path, monkeypatch):
    from server.cli import _prepare_multiprocess_metrics

    (tmp_path / "counter_123.db").write_bytes(b"stale")
    (tmp_path / "notes.txt").write_text("kept")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert _prepare_multiprocess_metrics(1) == (tmp_path, False)
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


def test_one_worker_needs_no_metrics_folder_and_several_get_a_fresh_one(monkeypatch):
    from server.cli import _prepare_multiprocess_metrics

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # restored after the test, whatever happens
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert _prepare_multiprocess_metrics(1) == (None, False)
    directory, temporary = _prepare_multiprocess_metrics(3)
    try:
        assert temporary and directory is not None and not any(directory.iterdir())
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(directory)
    finally:
        if directory is not None:
            directory.rmdir()


def test_the_command_line_imports_prometheus_client_only_when_serving():
    """prometheus_client picks where values live at import: the metrics folder must be set first."""
    probe = "import sys, server.cli; assert 'prometheus_client' not in sys.modules, 'imported too early'"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
