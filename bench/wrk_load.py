"""Load from wrk (C, a few % of a CPU) instead of Python clients, for the rush benchmarks.

On a 2-CPU machine the Python load generators took as much CPU as the servers they measured,
so past 16 in flight they measured themselves. wrk sends one POST per buyer (each with its own
path and Authorization header) from a generated Lua script, and stops each thread after it has
seen STOP_AFTER answers of the sold-out status: the rush phase. A steady phase then measures the
sold-out answers alone.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

THREADS = 2
STOP_AFTER = 200  # sold-out answers per wrk thread before it stops the rush


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    mean_ms: float = 0.0
    connections: int = 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def in_flight(self) -> float:
        """Requests in flight on average by Little's law (rate x mean latency)."""
        return self.per_second * self.mean_ms / 1000

    @property
    def consistent(self) -> bool:
        """Whether wrk's latencies agree with its own request count. wrk keeps one request in
        flight per connection, so the average in flight cannot exceed the connections; on this
        2-CPU machine, answering 6,000+ requests/s, wrk 4.1.0 now and then reported a latency
        histogram several times too slow for that (p99 1.8 s, while a capture of the same run
        on the wire showed p99 7 ms and a server-side timer at most 0.5 s)."""
        return self.in_flight <= 1.5 * self.connections


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def _script(
    requests: list[tuple[str, str]], body: str, stop_status: int | None, marker_dir: str
) -> str:
    paths = ",\n".join(_lua_string(path) for path, _ in requests)
    auths = ",\n".join(_lua_string(auth) for _, auth in requests)
    stop = (
        f"""
local seen = 0
function response(status, headers, body)
  if status == {stop_status} then
    seen = seen + 1
    if seen == {STOP_AFTER} then
      io.open({_lua_string(marker_dir)} .. "/stopped-" .. offset, "w"):close()
      wrk.thread:stop()
    end
  end
end
"""
        if stop_status is not None
        else ""
    )
    return f"""
local paths = {{
{paths}
}}
local auths = {{
{auths}
}}
local body = {_lua_string(body)}
local threads = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
local n = nil
function request()
  if n == nil then n = offset end
  local i = n % #paths + 1
  n = n + {THREADS}
  local headers = {{["Content-Type"] = "application/json"}}
  if auths[i] ~= "" then headers["Authorization"] = auths[i] end
  return wrk.format("POST", paths[i], headers, body)
end
{stop}
"""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    base_url: str,
    requests: list[tuple[str, str]],
    *,
    body: str,
    connections: int,
    seconds: int,
    stop_status: int | None = None,
) -> WrkResult:
    """POST each (path, Authorization) once in turn (cycling) with `connections` in flight."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for this benchmark: apt-get install wrk")
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "rush.lua"
        script.write_text(_script(requests, body, stop_status, folder))
        wrk = subprocess.Popen(
            ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency",
             "--timeout", "30s", "-s", str(script), base_url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        if stop_status is not None:
            # wrk's threads stop themselves, but wrk itself sleeps out its duration: once every
            # thread has stopped, SIGINT makes it print its summary at once.
            while wrk.poll() is None and len(list(Path(folder).glob("stopped-*"))) < THREADS:
                time.sleep(0.02)
            if wrk.poll() is None:
                wrk.send_signal(signal.SIGINT)
        out, err = wrk.communicate(timeout=seconds + 60)
        if wrk.returncode != 0:
            raise SystemExit(f"wrk failed ({wrk.returncode}): {err}")
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m|h)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    mean = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
    if not (total and p50 and p99 and mean):
        raise SystemExit(f"could not read wrk's output:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    seconds_taken = (
        float(total.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[total.group(3)]
    )
    return WrkResult(
        requests=int(total.group(1)),
        seconds=seconds_taken,
        p50_ms=_ms(*p50.groups()),
        p99_ms=_ms(*p99.groups()),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        mean_ms=_ms(*mean.groups()),
        connections=connections,
    )


@dataclass(frozen=True)
class ProbeResult:
    samples: int
    p50_ms: float
    p99_ms: float


async def probe(
    base_url: str, requests: list[tuple[str, str]], *, body: str, seconds: float
) -> ProbeResult:
    """Latencies seen by one more shopper while wrk loads the server: requests one at a time
    on one connection (asyncio streams, no HTTP library in the way), for `seconds`. wrk's own
    latency histogram is not always to be trusted here (WrkResult.consistent); this one is
    plain: the time from writing a request to reading its whole answer."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    payload = body.encode()
    reader, writer = await asyncio.open_connection(host, int(port))
    took: list[float] = []
    try:
        deadline = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < deadline:
            path, auth = requests[n % len(requests)]
            n += 7  # not the order wrk's threads walk the list in
            head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            if auth:
                head += f"Authorization: {auth}\r\n"
            head += f"Content-Length: {len(payload)}\r\n\r\n"
            started = time.perf_counter()
            writer.write(head.encode() + payload)
            answer = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length:\s*(\d+)", answer)
            await reader.readexactly(int(length.group(1)) if length else 0)
            took.append(time.perf_counter() - started)
    finally:
        writer.close()
    took.sort()
    return ProbeResult(
        samples=len(took),
        p50_ms=took[len(took) // 2] * 1000,
        p99_ms=took[min(len(took) - 1, int(len(took) * 0.99))] * 1000,
    )
