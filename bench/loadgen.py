"""Drives HTTP load from a separate process and reports req/s, p50/p99 latency, errors and X-Cache.

A scenario is a list of ready-made HTTP requests, sent round-robin over N keep-alive connections
for a fixed time (a closed loop: each connection sends its next request when the previous answer
has arrived). Two generators read the same scenario:

- wrk (preferred: compiled, one thread, so it leaves the CPU to the server), driven by a generated
  Lua script that cycles the requests and checks every response: a status outside 2xx, or a body
  with a GraphQL "errors" entry, is an error; the X-Cache header is counted;
- this module run as a script (`python bench/loadgen.py --spec FILE`), an asyncio/aiohttp loop in
  its own process, when wrk is not installed; it is slower, so it skews the figures at high rates.

Both print one JSON line: requests, seconds, p50/p99 in ms, errors by kind, X-Cache counts, and a
sample of the first error body.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

RESULT_MARK = "LOADGEN-RESULT "
SCRIPT = pathlib.Path(__file__).resolve()
ERROR_SAMPLE_CHARS = 300


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with its query string
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    status_errors: int  # answers outside 2xx
    socket_errors: int  # connect, read, write errors and timeouts
    graphql_errors: int  # 2xx answers whose body has an "errors" entry
    cache_hits: int
    cache_misses: int
    cache_other: int  # answers without an X-Cache header (or another value)
    error_sample: str = ""
    generator: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.status_errors + self.socket_errors + self.graphql_errors


# -- wrk ------------------------------------------------------------------------------------------
def wrk_path(install: bool) -> str | None:
    """wrk on PATH, installing Debian's package first when asked to and allowed (root, apt-get)."""
    found = shutil.which("wrk")
    if found or not install:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    print("wrk is missing: apt-get install -y wrk", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    installed = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"], env=env, capture_output=True, check=False
    )
    if installed.returncode != 0:  # the package lists may be missing on a fresh machine
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, capture_output=True, check=False)
    return shutil.which("wrk")


def _lua_string(text: str) -> str:
    """A Lua string literal for any text: bytes outside printable ASCII, quotes and backslashes
    as decimal escapes."""
    out = []
    for byte in text.encode("utf-8"):
        plain = 0x20 <= byte <= 0x7E and byte not in (0x22, 0x5C)
        out.append(chr(byte) if plain else f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def wrk_script(requests: Sequence[Request]) -> str:
    specs = []
    for r in requests:
        headers = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in r.headers.items())
        body = _lua_string(r.body) if r.body is not None else "nil"
        specs.append(f"  {{{_lua_string(r.method)}, {_lua_string(r.path)}, {{{headers}}}, {body}}},")
    return WRK_LUA.replace("--SPECS--", "\n".join(specs)).replace("--SAMPLE--", str(ERROR_SAMPLE_CHARS))


WRK_LUA = r"""
local specs = {
--SPECS--
}
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  prepared = {}
  for i, s in ipairs(specs) do
    prepared[i] = wrk.format(s[1], s[2], s[3], s[4])
  end
  counter = thread_id * 7919  -- threads start at different places in the cycle
  graphql_errors = 0
  hits = 0
  misses = 0
  other = 0
  sample = ""
end

function request()
  counter = counter + 1
  return prepared[(counter % #prepared) + 1]
end

function response(status, headers, body)
  local cache = nil
  for name, value in pairs(headers) do
    if string.lower(name) == "x-cache" then cache = string.upper(value) end
  end
  if cache == "HIT" then hits = hits + 1 elseif cache == "MISS" then misses = misses + 1 else other = other + 1 end
  if status >= 200 and status < 300 then
    if string.find(body, '"errors"', 1, true) then
      graphql_errors = graphql_errors + 1
      if sample == "" then sample = string.sub(body, 1, --SAMPLE--) end
    end
  elseif sample == "" then
    sample = status .. " " .. string.sub(body, 1, --SAMPLE--)
  end
end

local function json_string(s)
  s = string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local g, h, m, o, sample_all = 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    g = g + t:get("graphql_errors")
    h = h + t:get("hits")
    m = m + t:get("misses")
    o = o + t:get("other")
    if sample_all == "" then sample_all = t:get("sample") or "" end
  end
  local e = summary.errors
  io.write(string.format(
    'LOADGEN-RESULT {"requests": %d, "seconds": %.6f, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
    '"status_errors": %d, "socket_errors": %d, "graphql_errors": %d, "cache_hits": %d, ' ..
    '"cache_misses": %d, "cache_other": %d, "error_sample": %s}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout, g, h, m, o, json_string(sample_all)))
end
"""


def _parse(stdout: str, generator: str) -> LoadResult:
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARK):
            data = json.loads(line[len(RESULT_MARK) :])
            return LoadResult(**data, generator=generator)
    raise RuntimeError(f"{generator} printed no result:\n{stdout[-2000:]}")


class LoadGenerator:
    """Runs one generator subprocess at a time; `stop()` kills it (its whole process group)."""

    def __init__(self, wrk: str | None, threads: int = 1, timeout_s: float = 10.0) -> None:
        self.wrk = wrk
        self.threads = threads
        self.timeout_s = timeout_s
        self.current: asyncio.subprocess.Process | None = None

    @property
    def name(self) -> str:
        return f"wrk ({self.threads} thread)" if self.wrk else "python/aiohttp"

    async def run(
        self, base_url: str, requests: Sequence[Request], connections: int, seconds: float
    ) -> LoadResult:
        with tempfile.TemporaryDirectory(prefix="emploi-loadgen-") as tmp:
            if self.wrk:
                script = pathlib.Path(tmp) / "scenario.lua"
                script.write_text(wrk_script(requests), encoding="utf-8")
                command = [
                    self.wrk,
                    f"-t{min(self.threads, connections)}",
                    f"-c{connections}",
                    f"-d{max(1, round(seconds))}s",
                    f"--timeout={self.timeout_s:g}s",
                    "-s",
                    str(script),
                    base_url,
                ]
            else:
                spec = pathlib.Path(tmp) / "scenario.json"
                spec.write_text(json.dumps([asdict(r) for r in requests]), encoding="utf-8")
                command = [
                    sys.executable,
                    str(SCRIPT),
                    "--spec",
                    str(spec),
                    "--url",
                    base_url,
                    "--connections",
                    str(connections),
                    "--duration",
                    str(seconds),
                    "--timeout",
                    str(self.timeout_s),
                ]
            self.current = await asyncio.create_subprocess_exec(
                *command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                output, _ = await asyncio.wait_for(self.current.communicate(), timeout=seconds + 60)
            finally:
                await self.stop()
        stdout = output.decode("utf-8", errors="replace")
        return _parse(stdout, "wrk" if self.wrk else "python")

    async def stop(self) -> None:
        process, self.current = self.current, None
        if process is not None and process.returncode is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await process.wait()


# -- the Python generator (this module as a script) -----------------------------------------------
async def _python_load(
    base_url: str, requests: list[Request], connections: int, seconds: float, timeout_s: float
) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    counts = {"status": 0, "socket": 0, "graphql": 0, "HIT": 0, "MISS": 0, "other": 0}
    sample: list[str] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    base = base_url.rstrip("/")

    async def connection(offset: int, session: aiohttp.ClientSession) -> None:
        n = offset * 7919
        while time.perf_counter() < deadline:
            r = requests[n % len(requests)]
            n += 1
            started = time.perf_counter()
            try:
                async with session.request(
                    r.method, base + r.path, data=r.body, headers=r.headers
                ) as response:
                    body = await response.text()
                    latencies.append(time.perf_counter() - started)
                    cache = response.headers.get("x-cache", "").upper()
                    counts[cache if cache in ("HIT", "MISS") else "other"] += 1
                    if not 200 <= response.status < 300:
                        counts["status"] += 1
                        if not sample:
                            sample.append(f"{response.status} {body[:ERROR_SAMPLE_CHARS]}")
                    elif '"errors"' in body:
                        counts["graphql"] += 1
                        if not sample:
                            sample.append(body[:ERROR_SAMPLE_CHARS])
            except (aiohttp.ClientError, TimeoutError) as exc:
                counts["socket"] += 1
                if not sample:
                    sample.append(repr(exc))

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(connection(i, session) for i in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(fraction: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, max(0, round(fraction * len(latencies)) - 1))] * 1000

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "status_errors": counts["status"],
        "socket_errors": counts["socket"],
        "graphql_errors": counts["graphql"],
        "cache_hits": counts["HIT"],
        "cache_misses": counts["MISS"],
        "cache_other": counts["other"],
        "error_sample": sample[0] if sample else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Python load generator (used when wrk is missing).")
    parser.add_argument("--spec", type=pathlib.Path, required=True, help="JSON list of requests")
    parser.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    requests = [Request(**item) for item in json.loads(args.spec.read_text(encoding="utf-8"))]
    work = _python_load(args.url, requests, args.connections, args.duration, args.timeout)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
