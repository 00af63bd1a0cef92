"""The terminal desk's screen: ``cti agent`` on a terminal, a prompt_toolkit application
over :class:`cti.clients.agent_tui.AgentDesktop`.

Three parts, top to bottom: the events pane (screen pops, call and agent events, the replies
to commands; it scrolls and never touches the line being typed), the status line (the
agent's state and queues; the call, its caller and the screen pop's data) and the command
line (history with the arrow keys, Tab completes commands, agent numbers and call ids).
The logic stays in AgentDesktop and :func:`cti.clients.agent_tui.run_desktop`: this module
only feeds the typed lines to it and shows what it says, so the same desk runs on a pipe
(scripts) without prompt_toolkit.
"""
from __future__ import annotations

import asyncio

from prompt_toolkit.application import Application
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.layout import Float, FloatContainer, HSplit, Layout, Window
from prompt_toolkit.layout.controls import FormattedTextControl
from prompt_toolkit.layout.menus import CompletionsMenu
from prompt_toolkit.styles import Style
from prompt_toolkit.widgets import TextArea

from cti.clients.agent_tui import AgentDesktop, run_desktop

__all__ = ["DeskCompleter", "DeskScreen", "run_screen"]

#: lines the events pane keeps (older ones scroll away for good)
KEEP_LINES = 2000

STYLE = Style.from_dict({"status": "reverse", "status.call": "reverse bold",
                         "prompt": "bold"})


class DeskCompleter(Completer):
    """Completion from :meth:`AgentDesktop.completions`."""

    def __init__(self, desk: AgentDesktop):
        self.desk = desk

    def get_completions(self, document, complete_event):
        before = document.text_before_cursor
        word = "" if before.endswith(" ") or not before.split() else before.split()[-1]
        for option in self.desk.completions(before):
            yield Completion(option, start_position=-len(word))


class DeskScreen:
    """The application: :attr:`events` (the pane), the status line, :attr:`command`
    (the line typed). Each line entered goes to :attr:`lines`, run_desktop's queue."""

    def __init__(self, desk: AgentDesktop, lines: asyncio.Queue, *, input=None, output=None,
                 history=None):
        self.desk, self.lines = desk, lines
        self.events = TextArea(read_only=True, focusable=False, scrollbar=True,
                               wrap_lines=True)
        status = Window(FormattedTextControl(self._status), height=2, style="class:status")
        self.command = TextArea(multiline=False, prompt=[("class:prompt", "desk> ")],
                                history=history or InMemoryHistory(),
                                completer=DeskCompleter(desk), complete_while_typing=False,
                                accept_handler=self._accept)
        keys = KeyBindings()

        @keys.add("c-d")
        @keys.add("c-c")
        def _quit(event):
            self.lines.put_nowait("quit")       # logs out first, as `quit` does

        body = FloatContainer(HSplit([self.events, status, self.command]), floats=[
            Float(xcursor=True, ycursor=True, content=CompletionsMenu(max_height=8))])
        self.app = Application(layout=Layout(body, focused_element=self.command),
                               key_bindings=keys, style=STYLE, full_screen=True,
                               mouse_support=False, input=input, output=output)

    def _status(self):
        top, call = self.desk.status_bar()
        return [("class:status", top + "\n"), ("class:status.call", call)]

    def _accept(self, buffer) -> bool:
        line = buffer.text
        if line.strip():
            self.show(f"> {line}")
        self.lines.put_nowait(line)
        return False                             # clear the line (history keeps it)

    def show(self, line: str) -> None:
        """Add a line to the events pane, scrolled to the end."""
        old = self.events.buffer.text
        text = f"{old}\n{line}" if old else line
        kept = text.split("\n")
        if len(kept) > KEEP_LINES:
            text = "\n".join(kept[-KEEP_LINES:])
        self.events.buffer.set_document(Document(text, len(text)), bypass_readonly=True)
        self.app.invalidate()

    async def run(self, stream, requester) -> int:
        """The application and run_desktop together; the desk's end ends the application."""
        async def desk() -> int:
            try:
                return await run_desktop(self.desk, stream, requester, self.lines, self.show)
            finally:
                if self.app.is_running and not self.app.future.done():
                    self.app.exit()
        tasks = []
        try:
            # the desk starts once the application runs, so its end can always end it
            await self.app.run_async(pre_run=lambda: tasks.append(asyncio.create_task(desk())))
        finally:
            if tasks and not tasks[0].done():    # the terminal went away: log out, leave
                self.lines.put_nowait("quit")
        return await tasks[0] if tasks else 1


async def run_screen(desk: AgentDesktop, stream, requester, *, input=None,
                     output=None) -> int:
    """``cti agent`` on a terminal (``input``/``output``: prompt_toolkit's, for tests)."""
    return await DeskScreen(desk, asyncio.Queue(), input=input, output=output).run(
        stream, requester)
