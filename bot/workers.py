"""``bot serve --workers N``: N server processes accepting on one listening socket, kept running.

The parent binds the socket, then forks the workers before anything heavy is imported (each
worker loads its own models: torch is never forked with threads running) and waits. A worker that
dies (killed, out of memory) is replaced; its customers reconnect to the others meanwhile and are
answered there (``BOT_REDIS_URL`` carries the live events and the turn lock between them). A
worker that fails to start stops them all, as one process would. SIGTERM or SIGINT to the parent
stops every worker gracefully (open sockets are closed; widgets reconnect elsewhere).

Why not uvicorn's ``--workers``: it spawns fresh interpreters that must import the application
by name and pickle its configuration, which cannot carry the settings object and the
request-deadline protocol class that ``bot serve`` builds.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from bot.config import Settings

UVICORN_STARTUP_FAILURE = 3
# A worker that dies sooner than this after its start is not restarted in a tight loop.
RESTART_PAUSE_SECONDS = 1.0
STOP_GRACE_SECONDS = 30.0


class WorkerStartFailed(Exception):
    pass


def listening_socket(host: str, port: int) -> socket.socket:
    family, kind, protocol, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, protocol)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_worker(settings: Settings, sock: socket.socket, log_level: str) -> None:
    """One worker: the same server as ``bot serve``, on the inherited socket."""
    # The parent's handlers came along with the fork; while the models load, a stop must stop.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import uvicorn

    from bot.app import create_app
    from bot.http_server import uvicorn_options

    config = uvicorn.Config(create_app(settings), log_level=log_level, **uvicorn_options(settings))
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(UVICORN_STARTUP_FAILURE)


def serve_workers(settings: Settings, host: str, port: int, log_level: str, workers: int) -> None:
    """Run ``workers`` processes until SIGTERM/SIGINT; raises ``WorkerStartFailed`` if one cannot
    start."""
    sock = listening_socket(host, port)
    context = multiprocessing.get_context("fork")
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(target=run_worker, args=(settings, sock, log_level), daemon=False)
        process.start()
        return process

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    processes = [start() for _ in range(workers)]
    started_at = {process.pid: time.monotonic() for process in processes}
    _say(f"serving on {host}:{port} with {workers} workers (pids {', '.join(str(p.pid) for p in processes)})")
    try:
        while not stopping:
            wait([process.sentinel for process in processes], timeout=0.5)
            for index, process in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                if process.exitcode == UVICORN_STARTUP_FAILURE:
                    raise WorkerStartFailed(f"worker {process.pid} did not start; its log above says why")
                _say(f"worker {process.pid} exited (code {process.exitcode}); starting another")
                if time.monotonic() - started_at.get(process.pid or 0, 0.0) < RESTART_PAUSE_SECONDS:
                    time.sleep(RESTART_PAUSE_SECONDS)
                processes[index] = start()
                started_at[processes[index].pid or 0] = time.monotonic()
    finally:
        _stop_all(processes)
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _say(line: str) -> None:
    # The parent has no logging set up (uvicorn configures it in each worker).
    print(f"bot serve: {line}", file=sys.stderr, flush=True)


def _stop_all(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes what it is doing, then exits
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
