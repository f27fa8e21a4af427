"""Showing events in a terminal: the answer on stdout, tool activity on stderr (rich).

With ``--json`` every event is one JSON line on stdout instead, for scripts and other programs.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from agent.events import _one_line


class TerminalRenderer:
    """The event sink of the CLI in text mode."""

    def __init__(self, stdout: TextIO | None = None, verbose: bool = False):
        from rich.console import Console

        self.out = stdout or sys.stdout
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.verbose = verbose
        self._streamed = False  # the current assistant text arrived as deltas
        self._line_open = False
        self._errors: set[str] = set()  # printed already: the final text often repeats one

    def __call__(self, event: Any) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)

    def _end_line(self) -> None:
        if self._line_open:
            self.out.write("\n")
            self.out.flush()
            self._line_open = False

    def _on_assistant_delta(self, event: Any) -> None:
        self.out.write(event.text)
        self.out.flush()
        self._streamed = True
        self._line_open = not event.text.endswith("\n")

    def _on_assistant(self, event: Any) -> None:
        if not self._streamed:
            self.out.write(event.text)
            self._line_open = not event.text.endswith("\n")
        self._end_line()
        self._streamed = False

    def _on_iteration(self, event: Any) -> None:
        if self.verbose:
            self.err.print(f"[dim]· {event.summary()}[/dim]")

    def _on_tool_call(self, event: Any) -> None:
        self._end_line()
        self.err.print(f"[cyan]{_escape(event.summary())}[/cyan]")

    def _on_tool_output(self, event: Any) -> None:
        style = "red" if event.is_error else "dim"
        self.err.print(f"[{style}]  {_escape(event.summary())}[/{style}]")
        for line in event.output.splitlines():  # a saved plot: its whole path, to open it
            if line.startswith("[image saved to "):
                self.err.print(f"  plot: {_escape(line[len('[image saved to ') : -1])}")

    def _on_approval_needed(self, event: Any) -> None:
        self._end_line()
        self.err.print(f"[yellow]? {_escape(event.summary())}[/yellow]")

    def _on_approval_decided(self, event: Any) -> None:
        style = "green" if event.action == "approve" else "yellow"
        self.err.print(f"[{style}]  {_escape(event.summary())}[/{style}]")

    def _on_compacted(self, event: Any) -> None:
        self.err.print(f"[magenta]{_escape(event.summary())}[/magenta]")

    def _on_retrying(self, event: Any) -> None:
        self._end_line()
        self.err.print(f"[yellow]{_escape(event.summary())}[/yellow]")

    def _on_nudge(self, event: Any) -> None:
        self.err.print(f"[magenta]{_escape(_one_line(event.summary(), 120))}[/magenta]")

    def _on_notice(self, event: Any) -> None:
        self._end_line()
        self.err.print(f"[yellow]{_escape(event.summary())}[/yellow]")

    def _on_error(self, event: Any) -> None:
        self._end_line()
        label = "error" if event.actionable else "internal error (a bug)"
        self.err.print(f"[bold red]{label}:[/bold red] {_escape(event.message)}")
        self._errors.add(event.message.strip())

    def _on_done(self, event: Any) -> None:
        self._end_line()
        if event.reason != "completed" and event.final_text.strip() not in self._errors:
            self.err.print(f"[bold yellow]{_escape(event.final_text)}[/bold yellow]")
        session = f" · session {event.session_id}" if event.session_id else ""
        self.err.print(f"[dim]{_escape(event.summary())}{session}[/dim]")


class JsonRenderer:
    """One JSON object per event on stdout."""

    def __init__(self, stdout: TextIO | None = None):
        self.out = stdout or sys.stdout

    def __call__(self, event: Any) -> None:
        self.out.write(event.model_dump_json() + "\n")
        self.out.flush()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
