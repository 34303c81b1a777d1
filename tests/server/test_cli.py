"""The `emploi-store` command as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.conftest import free_port, run_cli


def test_migrate_twice_is_a_no_op(settings):
    result = run_cli("migrate", database_url=settings.database_url, var_dir=settings.var_dir)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_help_lists_the_commands():
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    for command in ("serve", "migrate", "seed"):
        assert command in result.stdout


def test_serve_answers_on_the_given_host_and_port(settings, db):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": settings.database_url, "VAR_DIR": str(settings.var_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/graphql", json={"query": "{ categories { slug } }"}, timeout=2
                )
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json() == {"data": {"categories": []}}
    finally:
        process.terminate()
        process.wait(timeout=15)
