"""`patronsync serve`, and the helpers the apps' commands share (`institution_option`).

These belong to no app: `serve` runs every app's pages and APIs, and the helpers read the
command line the same way for each app. The apps' own commands live in their `commands.py`.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from patronsync.core.models import Institution

# Read by config/settings/dev.py: "1" turns DEBUG on; only `serve --dev` sets it.
SERVE_DEV_VARIABLE = "PATRONSYNC_SERVE_DEV"


# Off a terminal (cron, a pipe, a log file) rich would lay reports out 80 columns wide and wrap
# their lines; reports printed there get this width instead.
REPORT_WIDTH_OFF_TERMINAL = 160


def report_console(*, stderr: bool = False) -> Console:
    """A console for reports and tables: the terminal's width on a terminal, and
    REPORT_WIDTH_OFF_TERMINAL columns elsewhere, so that a log file keeps each line whole."""
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=REPORT_WIDTH_OFF_TERMINAL)
    return console


def institution_option(code: str | None) -> Institution:
    """The institution a command's `--institution CODE` names, or the default one.

    Exits with a message naming the code when there is no such institution.
    """
    from patronsync.core.models import Institution
    from patronsync.core.services import institution_get_or_create_default

    if not code:
        return institution_get_or_create_default()
    institution = Institution.objects.filter(code=code).first()
    if institution is None:
        raise SystemExit(f"No institution with code {code!r}")
    return institution


def serve(args: argparse.Namespace) -> int:
    """Migrate, collect the static files, then run the web server and, beside it, the worker.

    The web server is gunicorn on `config.wsgi` (whitenoise serves the static files), or, with
    `--dev`, Django's development server with DEBUG on (the flag is put in the environment
    before Django reads its settings: config/settings/dev.py reads it). The worker is the
    embedded one (`patronsync worker`), which runs the jobs the API starts and the schedules;
    none is started with `--no-worker`, or when PATRONSYNC_BROKER_URL sends the jobs to Celery
    workers that run elsewhere.

    Both run as child processes of this one, which watches them: SIGTERM or Ctrl-C stops both
    (gunicorn finishes the requests it serves, the worker the batch it commits), and when one
    stops by itself the other is stopped too, and serve exits 1.
    """
    os.environ[SERVE_DEV_VARIABLE] = "1" if args.dev else "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    address = f"{args.host}:{args.port}"
    if args.dev:
        web = ["-m", "patronsync.cli", "runserver", address, "--noreload"]
        what = "Django's development server (--dev: debug pages on)"
    else:
        call_command("collectstatic", interactive=False, verbosity=0)
        workers = args.workers or settings.WEB_WORKERS
        threads = args.threads or settings.WEB_THREADS
        web = [
            "-m", "gunicorn", "--config", "python:config.gunicorn", "--bind", address,
            "--workers", str(workers), "--threads", str(threads),
            "--timeout", str(settings.WEB_TIMEOUT),
        ]  # fmt: skip
        what = f"gunicorn, {workers} processes of {threads} threads"
    children = {"web server": _child(web)}
    print(f"patronsync serve: http://{address}/ ({what})", flush=True)
    if args.no_worker:
        print("patronsync serve: no worker here (--no-worker): run `patronsync worker`", flush=True)
    elif settings.PATRONSYNC_BROKER_URL:
        print(
            "patronsync serve: no worker here: PATRONSYNC_BROKER_URL sends the jobs to Celery "
            "workers (`patronsync worker --celery`)",
            flush=True,
        )
    else:
        children["worker"] = _child(["-m", "patronsync.cli", "worker"])
        print("patronsync serve: the embedded worker runs the jobs beside it", flush=True)
    return _supervise(children)


# How long the children get to stop after SIGTERM: the worker ends the batch it commits.
STOP_SECONDS = 60


def _child(arguments: list[str]) -> subprocess.Popen[bytes]:
    """`python ARGUMENTS` in its own process group, so that Ctrl-C on the terminal reaches
    serve alone, which stops each child once; on Linux a child is also sent SIGTERM should
    serve itself die without stopping it."""
    return subprocess.Popen(
        [sys.executable, *arguments], process_group=0, preexec_fn=_stop_with_parent
    )


def _stop_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _supervise(children: dict[str, subprocess.Popen[bytes]]) -> int:
    """Wait until a signal asks to stop or a child stops; then stop the others. The exit code:
    0 when asked to stop, 1 when a child stopped by itself."""
    asked: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        asked.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    code = 0
    while not asked:
        ended = [(name, child) for name, child in children.items() if child.poll() is not None]
        if ended:
            name, child = ended[0]
            print(
                f"patronsync serve: the {name} stopped (exit code {child.returncode}); "
                "stopping the rest",
                file=sys.stderr,
                flush=True,
            )
            code = 1
            break
        time.sleep(0.2)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for child in children.values():
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return code


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the web server (gunicorn) and the embedded worker beside it"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--workers", type=int, help="gunicorn processes (default: PATRONSYNC_WEB_WORKERS, 2)"
    )
    parser.add_argument(
        "--threads", type=int, help="threads per process (default: PATRONSYNC_WEB_THREADS, 4)"
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="the web server alone: jobs wait for a `patronsync worker` run elsewhere",
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="development only: Django's debug mode, whose error pages show the settings",
    )
    parser.set_defaults(func=serve, needs_django=False)
