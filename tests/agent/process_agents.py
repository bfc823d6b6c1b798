"""Provider agents for the process-mode supervisor tests. The child process imports them by
``module:attribute``; they keep their state in files because each start is a new process."""

from __future__ import annotations

import os
import threading
import time

from statera.agent.contract import AgentContext


def crashy(exit_event: threading.Event, context: AgentContext) -> None:
    """Crashes on its first two starts, then records its pid and runs until told to stop."""
    starts = context.state_dir / "starts"
    count = int(starts.read_text()) if starts.exists() else 0
    starts.write_text(str(count + 1))
    if count < 2:
        raise RuntimeError("boom")
    (context.state_dir / "pid").write_text(str(os.getpid()))
    exit_event.wait()
    (context.state_dir / "stopped").write_text("yes")


def echo(exit_event: threading.Event, context: AgentContext) -> None:
    """Appends every hint it hears (``id action``) to ``hints`` in its state directory."""
    sub = context.bus.subscribe(context.provider)
    (context.state_dir / "ready").write_text(str(os.getpid()))
    out = context.state_dir / "hints"
    while not exit_event.is_set():
        hint = sub.get(timeout=0.1)
        if hint is not None:
            with out.open("a") as fh:
                fh.write(f"{hint} {hint.action}\n")
    sub.close()


def stubborn(exit_event: threading.Event, context: AgentContext) -> None:
    """Ignores the exit event; only SIGTERM (SystemExit) ends it, after its finally block."""
    (context.state_dir / "pid").write_text(str(os.getpid()))
    try:
        while True:
            time.sleep(0.05)
    finally:
        (context.state_dir / "cleaned").write_text("yes")
