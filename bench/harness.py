#!/usr/bin/env python3
"""Measures mcpgen's generated server beside a floor and the official SDKs, on loopback only,
and writes bench/RESULTS.md. Run it through `bench/run`, which installs and builds what it
needs first; the binaries and installs it uses are under bench/.work and the peers' folders.

Every load point is the same request: POST /mcp with a JSON-RPC `tools/call` of `greet`
(`{"name": "bench"}` -> `Hello, bench!`), 64 connections, wrk with one thread.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
BIN = WORK / "target" / "release"
RUN = WORK / "run"

BODY = (
    '{"jsonrpc":"2.0","id":1,"method":"tools/call",'
    '"params":{"name":"greet","arguments":{"name":"bench"}}}'
)
MCP_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}
EXPECT = "Hello, bench!"


def log(*a: object) -> None:
    print("bench:", *a, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def proc_kib(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# --- servers ----------------------------------------------------------------------------------


@dataclass
class Spec:
    """How to start one server under test."""

    name: str
    kind: str  # mcpgen | floor | rmcp | ts | python
    argv: list[str]  # with {port} and {store} placeholders
    store: str | None = None  # mcpgen only
    auth: bool = False
    env: dict[str, str] = field(default_factory=dict)


class Running:
    def __init__(self, spec: Spec, port: int, logfile: Path, prefix: list[str] | None = None):
        self.spec = spec
        self.port = port
        argv = [a.format(port=port, store=spec.store or "") for a in spec.argv]
        self.log = open(logfile, "ab")
        env = {**os.environ, **spec.env}
        env.pop("RUST_LOG", None)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            (prefix or []) + argv,
            stdout=self.log,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
        self.token: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_healthy(self, timeout: float = 60.0) -> float:
        """Seconds from spawn to the first 200 from /healthz, polling as fast as it can."""
        deadline = self.started + timeout
        req = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nConnection: close\r\n\r\n"
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(req.encode())
                    head = s.recv(64)
                    if head.startswith(b"HTTP/1.1 200"):
                        return time.perf_counter() - self.started
            except OSError:
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{self.spec.name} did not answer /healthz")
            time.sleep(0.0002)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def headers(self) -> dict[str, str]:
        h = dict(MCP_HEADERS)
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def call_once(self) -> None:
        """One tools/call, checked: the right text, status 200."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("POST", "/mcp", BODY, self.headers())
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        if r.status != 200 or EXPECT not in body:
            raise RuntimeError(f"{self.spec.name}: unexpected answer {r.status} {body[:300]}")


# --- OAuth ------------------------------------------------------------------------------------


def oauth_flow(port: int) -> tuple[str, dict[str, float]]:
    """register -> authorize (consent auto) -> token on one keep-alive connection; returns the
    access token and the milliseconds of each step, client-observed on loopback."""
    base = f"http://127.0.0.1:{port}"
    resource = f"{base}/mcp"
    redirect = "http://127.0.0.1:9/callback"
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times: dict[str, float] = {}

    def req(step: str, method: str, path: str, body: str | None, headers: dict[str, str]):
        t0 = time.perf_counter()
        c.request(method, path, body, headers)
        r = c.getresponse()
        data = r.read()
        times[step] = (time.perf_counter() - t0) * 1000
        return r, data

    r, data = req(
        "register",
        "POST",
        "/register",
        json.dumps(
            {
                "client_name": "mcpgen bench",
                "redirect_uris": [redirect],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }
        ),
        {"Content-Type": "application/json"},
    )
    if r.status != 201:
        raise RuntimeError(f"register: {r.status} {data[:300]!r}")
    client_id = json.loads(data)["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    q = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "bench",
            "scope": "notes",
            "resource": resource,
        }
    )
    r, data = req("authorize", "GET", f"/authorize?{q}", None, {})
    if r.status != 302:
        raise RuntimeError(f"authorize: {r.status} {data[:300]!r}")
    loc = urllib.parse.urlparse(r.getheader("Location") or "")
    code = urllib.parse.parse_qs(loc.query)["code"][0]
    form = urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": client_id,
            "code_verifier": verifier,
            "resource": resource,
        }
    )
    r, data = req(
        "token", "POST", "/token", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    if r.status != 200:
        raise RuntimeError(f"token: {r.status} {data[:300]!r}")
    c.close()
    times["total"] = times["register"] + times["authorize"] + times["token"]
    return json.loads(data)["access_token"], times


# --- load -------------------------------------------------------------------------------------


def wrk(srv: Running, seconds: int, conns: int) -> dict:
    argv = [
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(BENCH / "post.lua"),
    ]
    if srv.token:
        argv += ["-H", f"Authorization: Bearer {srv.token}"]
    argv.append(f"http://127.0.0.1:{srv.port}/mcp")
    hwm_before = proc_kib(srv.pid, "VmHWM")
    la = loadavg()
    peak = 0
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while p.poll() is None:
        peak = max(peak, proc_kib(srv.pid, "VmRSS") or 0)
        time.sleep(0.1)
    out = p.stdout.read() if p.stdout else ""
    m = re.search(r"^WRK_JSON (\{.*\})$", out, re.M)
    if not m:
        raise RuntimeError(f"wrk printed no result for {srv.spec.name}:\n{out}")
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    r["rss_peak_kib"] = max(peak, proc_kib(srv.pid, "VmHWM") or 0, hwm_before or 0)
    r["loadavg"] = la
    return r


# --- callgrind --------------------------------------------------------------------------------


def callgrind_per_request(spec: Spec, n: int, logdir: Path) -> float | None:
    """Instructions per tools/call under callgrind: start, warm up, zero the counters, send `n`
    requests one after another on one connection, dump, divide. Reproducible whatever else
    runs on the machine (it counts instructions, not time)."""
    if not shutil.which("valgrind"):
        return None
    port = free_port()
    label = (spec.store or "none").split(":")[0]
    out = logdir / f"callgrind.{spec.kind}.{label}.out"
    RUN.mkdir(parents=True, exist_ok=True)
    for f in logdir.glob(out.name + "*"):
        f.unlink()
    prefix = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        "--dump-instr=no",
        "--collect-atstart=yes",
    ]
    srv = Running(spec, port, logdir / f"callgrind.{spec.kind}.log", prefix=prefix)
    try:
        srv.wait_healthy(timeout=120)
        if spec.auth:
            srv.token, _ = oauth_flow(port)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        h = srv.headers()

        def burst(k: int) -> None:
            for _ in range(k):
                c.request("POST", "/mcp", BODY, h)
                r = c.getresponse()
                body = r.read()
                if r.status != 200 or EXPECT.encode() not in body:
                    raise RuntimeError(f"callgrind {spec.name}: {r.status} {body[:200]!r}")

        burst(200)
        subprocess.run(["callgrind_control", "-z", str(srv.pid)], check=True, capture_output=True)
        burst(n)
        before = set(logdir.glob(out.name + "*"))
        subprocess.run(["callgrind_control", "-d", str(srv.pid)], check=True, capture_output=True)
        c.close()
        dump = None
        for _ in range(100):
            new = set(logdir.glob(out.name + "*")) - before
            if new:
                dump = new.pop()
                break
            time.sleep(0.05)
    finally:
        srv.stop()
    if dump is None:
        return None
    m = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(errors="ignore"), re.M)
    return int(m.group(1)) / n if m else None


# --- build times ------------------------------------------------------------------------------


def tools_spec(n: int) -> str:
    """The same shape as generator/benches/build.rs writes."""
    s = [
        "mcpgen: 1",
        f"name: bench-tools-{n}",
        "version: 0.1.0",
        "server:",
        "  public_url: http://127.0.0.1:8787",
        "auth:",
        "  scopes:",
        "    tools.read: { description: Read }",
        "    tools.write: { description: Write }",
        "  default_scopes: [tools.read]",
        "  consent: auto",
        "tools:",
    ]
    for i in range(n):
        s += [
            f"  - name: tool_{i:04}",
            f"    description: Tool number {i}.",
            f"    scopes: [{'tools.write' if i % 3 == 0 else 'tools.read'}]",
            "    input:",
            "      type: object",
            "      properties:",
            "        id: { type: string, description: The id }",
            "        count: { type: integer, minimum: 0 }",
            "      required: [id]",
        ]
        if i % 2 == 0:
            s += ["    handler: template", f'    template: "tool {i}: {{{{ id }}}}"']
        else:
            s += ["    handler: rust"]
    return "\n".join(s) + "\n"


def build_times(sizes: list[int], runs: int) -> dict[int, dict]:
    specs = WORK / "specs"
    gen = WORK / "gen"
    specs.mkdir(parents=True, exist_ok=True)
    gen.mkdir(parents=True, exist_ok=True)
    out: dict[int, dict] = {}
    mcpgen = BIN / "mcpgen"
    for n in sizes:
        spec = specs / f"tools-{n}.yaml"
        spec.write_text(tools_spec(n))
        dest = gen / f"tools-{n}"
        export = WORK / f"hyperfine-{n}.json"
        cmd = f"{mcpgen} build {spec} --out {dest} --runtime-path {ROOT / 'runtime'}"
        subprocess.run(
            [
                "hyperfine",
                "-N",
                "--style",
                "none",
                "--warmup",
                "2",
                "--runs",
                str(runs),
                "--prepare",
                f"rm -rf {dest}",
                "--export-json",
                str(export),
                cmd,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        r = json.loads(export.read_text())["results"][0]
        out[n] = {"median_ms": r["median"] * 1000, "min_ms": r["min"] * 1000, "runs": runs}
        log(f"mcpgen build, {n} tools: median {out[n]['median_ms']:.1f} ms")
    return out


# --- report -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = proc_meminfo("MemTotal")
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem_kib / 1024 / 1024:.1f} GiB" if mem_kib else "unknown",
        "kernel": platform.release(),
    }


def proc_meminfo(key: str) -> int | None:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def versions() -> dict[str, str]:
    def run(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    def pkg_version(path: Path) -> str:
        try:
            return json.loads(path.read_text())["version"]
        except (OSError, ValueError, KeyError):
            return "?"

    py = BENCH / "peers/python/.venv/bin/python"
    mcp_py = run([str(py), "-c", "import importlib.metadata as m; print(m.version('mcp'))"])
    return {
        "rustc": run(["rustc", "--version"]),
        "wrk": run(["wrk", "--version"]) or "wrk",
        "node": run(["node", "--version"]),
        "ts_sdk": pkg_version(BENCH / "peers/ts/node_modules/@modelcontextprotocol/sdk/package.json"),
        "python": run([str(py), "--version"]),
        "py_sdk": mcp_py,
        "rmcp": rmcp_version(),
        "redis": run(["redis-server", "--version"]),
    }


def rmcp_version() -> str:
    lock = BENCH / "peers/rmcp/Cargo.lock"
    if lock.exists():
        m = re.search(r'name = "rmcp"\nversion = "([^"]+)"', lock.read_text())
        if m:
            return m.group(1)
    return "?"


def fmt_ratio(v: float | None, floor: float | None) -> str:
    if v is None or not floor:
        return "—"
    return f"{v / floor:.2f}×"


def mib(kib: float | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.1f} MiB"


# --- main -------------------------------------------------------------------------------------


def specs(redis_url: str | None) -> list[Spec]:
    srv = str(BIN / "local-notes-mcp")
    mcpgen_argv = [
        srv,
        "--bind",
        "127.0.0.1:{port}",
        "--public-url",
        "http://127.0.0.1:{port}",
        "--store",
        "{store}",
    ]
    out = [
        Spec("mcpgen, memory store", "mcpgen", mcpgen_argv, store="memory", auth=True),
        Spec(
            "mcpgen, SQLite store",
            "mcpgen",
            mcpgen_argv,
            store=f"sqlite:{RUN / 'bench.sqlite3'}",
            auth=True,
        ),
    ]
    if redis_url:
        out.append(Spec("mcpgen, Redis store", "mcpgen", mcpgen_argv, store=redis_url, auth=True))
    out += [
        Spec("floor: bare axum + serde_json", "floor", [str(BIN / "mcpgen-bench-floor"), "{port}"]),
        Spec("rmcp, stateless", "rmcp", [str(BIN / "mcpgen-bench-rmcp"), "{port}"]),
        Spec(
            "TypeScript SDK, stateless",
            "ts",
            ["node", str(BENCH / "peers/ts/server.mjs"), "{port}"],
        ),
        Spec(
            "Python SDK, stateless",
            "python",
            [str(BENCH / "peers/python/.venv/bin/python"), str(BENCH / "peers/python/server.py"), "{port}"],
        ),
    ]
    return out


def start_redis() -> tuple[subprocess.Popen | None, str | None]:
    if not shutil.which("redis-server"):
        log("no redis-server: the Redis point is skipped")
        return None, None
    port = free_port()
    p = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return p, f"redis://127.0.0.1:{port}/"
        except OSError:
            time.sleep(0.05)
    p.kill()
    return None, None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=10, help="length of each load point")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2, help="load rounds; the best round is kept")
    ap.add_argument("--starts", type=int, default=10, help="cold starts per server")
    ap.add_argument("--flows", type=int, default=20, help="timed OAuth flows per store")
    ap.add_argument("--callgrind", type=int, default=2000, help="requests per callgrind count (0: skip)")
    ap.add_argument("--only", default="", help="comma-separated kinds/stores to run (debugging)")
    ap.add_argument("--generator-bench", default="", help="file with the generator bench's output")
    ap.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    args = ap.parse_args()

    RUN.mkdir(parents=True, exist_ok=True)
    for f in RUN.glob("bench.sqlite3*"):
        f.unlink()
    logdir = WORK / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    started_at = datetime.datetime.now(datetime.timezone.utc)
    load_start = loadavg()
    redis, redis_url = start_redis()
    all_specs = specs(redis_url)
    if args.only:
        keep = set(args.only.split(","))
        all_specs = [s for s in all_specs if s.kind in keep or (s.store or "").split(":")[0] in keep]

    results: dict[str, dict] = {s.name: {"spec": s, "rounds": []} for s in all_specs}
    try:
        # Cold start, idle memory, OAuth flows: one server at a time.
        for s in all_specs:
            r = results[s.name]
            starts = []
            for i in range(args.starts + 1):
                srv = Running(s, free_port(), logdir / f"{s.kind}.log")
                try:
                    t = srv.wait_healthy()
                finally:
                    srv.stop()
                if i > 0:  # the first start creates the SQLite file and warms the page cache
                    starts.append(t * 1000)
            r["cold_ms"] = statistics.median(starts)
            r["cold_min_ms"] = min(starts)
            log(f"{s.name}: cold start median {r['cold_ms']:.1f} ms")

        # Load rounds: every server once per round, in the same order.
        for rnd in range(args.rounds):
            for s in all_specs:
                r = results[s.name]
                srv = Running(s, free_port(), logdir / f"{s.kind}.log")
                try:
                    srv.wait_healthy()
                    if s.auth:
                        srv.token, _ = oauth_flow(srv.port)
                        if rnd == 0:
                            flows = [oauth_flow(srv.port)[1] for _ in range(args.flows + 1)][1:]
                            r["oauth"] = {
                                k: statistics.median(f[k] for f in flows)
                                for k in ("register", "authorize", "token", "total")
                            }
                    srv.call_once()
                    time.sleep(0.5)
                    idle = proc_kib(srv.pid, "VmRSS")
                    idle_anon = proc_kib(srv.pid, "RssAnon")
                    idle_file = proc_kib(srv.pid, "RssFile")
                    w = wrk(srv, args.seconds, args.conns)
                    w["idle_kib"] = idle
                    w["idle_anon_kib"] = idle_anon
                    w["idle_file_kib"] = idle_file
                    srv.call_once()
                finally:
                    srv.stop()
                r["rounds"].append(w)
                log(
                    f"round {rnd + 1} {s.name}: {w['rps']:.0f} req/s, p50 {w['p50_us'] / 1000:.2f} ms, "
                    f"p99 {w['p99_us'] / 1000:.2f} ms, errors {w['errors']}, idle {mib(idle)}, "
                    f"peak {mib(w['rss_peak_kib'])}, load {w['loadavg']:.2f}"
                )

        # Instructions per request (Rust servers only: valgrind on node/python measures their VMs).
        if args.callgrind > 0:
            for s in all_specs:
                if s.kind in ("mcpgen", "floor", "rmcp"):
                    try:
                        ir = callgrind_per_request(s, args.callgrind, logdir)
                    except (RuntimeError, subprocess.CalledProcessError) as e:
                        log(f"callgrind {s.name}: {e}")
                        ir = None
                    results[s.name]["ir"] = ir
                    if ir:
                        log(f"{s.name}: {ir:,.0f} instructions per request")
    finally:
        if redis:
            redis.terminate()
            redis.wait()

    builds = {}
    if "build" in args.only or not args.only:
        builds = build_times([1, 50, 500], 10)
    gen_bench = ""
    if args.generator_bench and Path(args.generator_bench).exists():
        m = re.search(r"^bench build: .*$", Path(args.generator_bench).read_text(), re.M)
        gen_bench = m.group(0) if m else ""
    load_end = loadavg()
    write_report(args, results, builds, gen_bench, started_at, load_start, load_end)
    return 0


def best(r: dict) -> dict | None:
    rounds = [w for w in r["rounds"] if w["errors"] == 0] or r["rounds"]
    return max(rounds, key=lambda w: w["rps"]) if rounds else None


FEATURES_SECTION = "## Binary size and idle memory per feature set"


def write_report(args, results, builds, gen_bench, started_at, load_start, load_end) -> None:
    m = machine()
    v = versions()
    floor = next((r for r in results.values() if r["spec"].kind == "floor"), None)
    fb = best(floor) if floor else None
    lines: list[str] = []
    add = lines.append
    add("# mcpgen benchmarks")
    add("")
    add(
        "Written by `bench/run` (bench/harness.py); rerun it to refresh this file. Loopback only. "
        "Every load point is the same request, a JSON-RPC `tools/call` of the template tool "
        "`greet` (`{\"name\": \"bench\"}` → `Hello, bench!`), POSTed with "
        "`Accept: application/json, text/event-stream` and `MCP-Protocol-Version: 2025-11-25`; "
        "every server answers it with a JSON body (the SDKs in their stateless JSON-response mode)."
    )
    add("")
    add(f"- **date**: {started_at.strftime('%Y-%m-%d %H:%M UTC')}")
    add(f"- **machine**: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, Linux {m['kernel']}")
    add(
        f"- **load**: wrk 1 thread, {args.conns} connections, {args.seconds} s per point, "
        f"{args.rounds} rounds over all servers in turn; the best round of each server is shown "
        "(all rounds are listed below)"
    )
    add(
        f"- **other work on the machine**: 1-minute load average {load_start:.2f} at the start and "
        f"{load_end:.2f} at the end. The 2 cores are shared with other sessions' builds and tests; "
        "wall-clock figures (requests/s, latency, start, build time) move with that load, the "
        "instruction counts do not."
    )
    add(
        f"- **versions**: {v['rustc']}; rmcp {v['rmcp']}; TypeScript SDK "
        f"@modelcontextprotocol/sdk {v['ts_sdk']} on node {v['node']}; Python SDK mcp "
        f"{v['py_sdk']} on {v['python']} with uvicorn; {v['redis']}"
    )
    add("")
    add("## tools/call under load, memory, cold start")
    add("")
    add(
        "Ratios are to the floor (a bare axum handler that parses the body with serde_json and "
        "answers the same result, no auth). mcpgen validates a bearer token on every request "
        "against the store named; the peers have no auth."
    )
    add("")
    add(
        "| server | req/s | ×floor | p50 ms | ×floor | p99 ms | ×floor | errors | idle RSS | ×floor "
        "| peak RSS under load | ×floor | cold start ms (median) | ×floor | instructions/request "
        "(callgrind) | ×floor |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    fir = floor.get("ir") if floor else None
    for name, r in results.items():
        b = best(r)
        if not b:
            continue
        ir = r.get("ir")
        add(
            f"| {name} | {b['rps']:,.0f} | {fmt_ratio(b['rps'], fb and fb['rps'])} "
            f"| {b['p50_us'] / 1000:.2f} | {fmt_ratio(b['p50_us'], fb and fb['p50_us'])} "
            f"| {b['p99_us'] / 1000:.2f} | {fmt_ratio(b['p99_us'], fb and fb['p99_us'])} "
            f"| {b['errors']} "
            f"| {mib(b['idle_kib'])} | {fmt_ratio(b['idle_kib'], fb and fb['idle_kib'])} "
            f"| {mib(b['rss_peak_kib'])} | {fmt_ratio(b['rss_peak_kib'], fb and fb['rss_peak_kib'])} "
            f"| {r['cold_ms']:.1f} | {fmt_ratio(r['cold_ms'], floor and floor['cold_ms'])} "
            f"| {f'{ir:,.0f}' if ir else '—'} | {fmt_ratio(ir, fir)} |"
        )
    add("")
    add(
        "Idle RSS: after start, the OAuth flows and one call, before the load. Peak RSS: the "
        "process's high-water mark at the end of the load. Cold start: spawn to the first 200 "
        f"from `/healthz`, median of {args.starts} starts (the SQLite file already exists, as on "
        "a restart). Instructions: callgrind's count over "
        f"{args.callgrind} sequential requests on one connection, divided by the count (Rust "
        "servers only)."
    )
    add("")
    add("### idle memory, split")
    add("")
    add(
        "RSS counts the pages of the binary's code that are mapped, not only what the process "
        "allocated. Private is `RssAnon` (heap, stacks: what each extra replica costs); "
        "file-backed is `RssFile` (code and read-only data of the binary and its libraries, "
        "shared with every other process running the same file)."
    )
    add("")
    add("| server | idle RSS | private (RssAnon) | file-backed (RssFile) |")
    add("|---|---:|---:|---:|")
    for name, r in results.items():
        b = best(r)
        if b:
            add(
                f"| {name} | {mib(b['idle_kib'])} | {mib(b.get('idle_anon_kib'))} "
                f"| {mib(b.get('idle_file_kib'))} |"
            )
    add("")
    add("### every round")
    add("")
    add("| server | round | req/s | p50 ms | p99 ms | max ms | errors | 1-min load before |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        for i, w in enumerate(r["rounds"]):
            add(
                f"| {name} | {i + 1} | {w['rps']:,.0f} | {w['p50_us'] / 1000:.2f} "
                f"| {w['p99_us'] / 1000:.2f} | {w['max_us'] / 1000:.2f} | {w['errors']} "
                f"| {w['loadavg']:.2f} |"
            )
    add("")
    oauth = [(n, r["oauth"]) for n, r in results.items() if "oauth" in r]
    if oauth:
        add("## OAuth flow (register → authorize → token, consent auto)")
        add("")
        add(
            f"Median of {args.flows} flows, each on one keep-alive connection, milliseconds as the "
            "client sees them on loopback (server time plus a loopback round trip). No floor exists "
            "for these."
        )
        add("")
        add("| store | register | authorize | token | whole flow |")
        add("|---|---:|---:|---:|---:|")
        for n, o in oauth:
            add(
                f"| {n} | {o['register']:.2f} | {o['authorize']:.2f} | {o['token']:.2f} "
                f"| {o['total']:.2f} |"
            )
        add("")
    if builds or gen_bench:
        add("## Generator")
        add("")
        if builds:
            add(
                "`mcpgen build SPEC --out DIR` (release binary) into an empty folder, hyperfine, "
                "median of 10 runs after 2 warm-ups. The specs are written by the harness: every "
                "tool has a two-property input schema, every other one is a template tool."
            )
            add("")
            add("| spec | median ms | min ms | ×1 tool |")
            add("|---|---:|---:|---:|")
            one = builds.get(1, {}).get("median_ms")
            for n, b in builds.items():
                add(
                    f"| {n} tool{'s' if n != 1 else ''} | {b['median_ms']:.1f} | {b['min_ms']:.1f} "
                    f"| {fmt_ratio(b['median_ms'], one)} |"
                )
            add("")
        if gen_bench:
            add(f"`cargo bench -p mcpgen --bench build` (in process, no file I/O): {gen_bench.removeprefix('bench build: ')}.")
            add("")
    add("## Targets")
    add("")
    add(targets(results, floor))
    # The per-feature-set section is written by bench/features, not here: keep it.
    out = Path(args.out)
    kept = out.read_text().split(FEATURES_SECTION, 1) if out.exists() else []
    if len(kept) == 2:
        lines += ["", FEATURES_SECTION + kept[1].rstrip("\n")]
    out.write_text("\n".join(lines) + "\n")
    log(f"wrote {args.out}")


def targets(results: dict, floor: dict | None) -> str:
    sq = next((r for r in results.values() if r["spec"].store and r["spec"].store.startswith("sqlite")), None)
    rm = next((r for r in results.values() if r["spec"].kind == "rmcp"), None)
    if not (sq and floor and best(sq) and best(floor)):
        return "Not evaluated: the SQLite or floor point did not run.\n"
    s, f = best(sq), best(floor)
    rows = []

    def row(what: str, value: str, target: str, ok: bool) -> None:
        rows.append(f"| {what} | {value} | {target} | {'met' if ok else '**missed**'} |")

    row("req/s on SQLite vs the floor", f"{s['rps'] / f['rps']:.2f}×", "≥ 0.8×", s["rps"] >= 0.8 * f["rps"])
    if rm and best(rm):
        x = s["rps"] / best(rm)["rps"]
        row("req/s on SQLite vs rmcp stateless", f"{x:.2f}×", "≥ 2×", x >= 2)
    row("p99 on SQLite vs the floor", f"{s['p99_us'] / f['p99_us']:.2f}×", "≤ 1.5×", s["p99_us"] <= 1.5 * f["p99_us"])
    idle = s["idle_kib"] / 1024
    row("idle RSS (SQLite)", f"{idle:.1f} MiB", "≤ 8 MB", idle * 1.048576 <= 8)
    row("cold start to /healthz 200 (SQLite)", f"{sq['cold_ms']:.1f} ms", "≤ 20 ms", sq["cold_ms"] <= 20)
    return "| target | this run | goal | |\n|---|---:|---:|---|\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.exit(main())
