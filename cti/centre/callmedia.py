"""What a caller hears and what is kept of a call: prompts, music on hold, the queue's
position announcements, and the trunk's audio into the call's recording or voicemail.

:class:`CallMedia` plays on the call's trunk channel (through :class:`Trunks`); the audio
itself comes from the prompt store (cti/centre/prompts.py) and goes into the recordings
of cti/centre/media.py.
"""
from __future__ import annotations

import logging

from cti.centre.calls import Call, CallTable, Events
from cti.centre.trunks import Trunks

__all__ = ["CallMedia"]


class CallMedia:
    """Prompts and music on hold on the calls' trunk channels, and their recordings' feed.

    ``prompts``: the prompt store (None: nothing is played); ``config``: the centre's
    (``moh``); ``counters``: the centre's (``prompts_missing``)."""

    def __init__(self, trunks: Trunks, table: CallTable, events: Events, prompts, config,
                 counters: dict):
        self.trunks = trunks
        self.table = table
        self.events = events
        self.prompts = prompts
        self.config = config
        self.counters = counters

    def play(self, call: Call, names) -> None:
        if self.prompts is None:
            return
        audio = b"".join(self.prompt(n) for n in names)
        if not audio and names:
            # every prompt missing: a moment of silence, so that the flow waiting for the
            # end of the prompt goes on (the configuration check at load makes this rare)
            audio = b"\xd5" * 1600     # 200 ms of A-law silence (G.711 table 1a)
        if audio:
            self.trunks.channel(call).play(audio)
            call.playing = True

    def prompt(self, name: str) -> bytes:
        """A prompt's audio, or nothing when its file went missing or cannot be read since
        the server started: logged and counted, never the end of the call."""
        from cti.centre.prompts import PromptError
        try:
            return self.prompts.load(name)
        except (PromptError, OSError) as e:
            self.counters["prompts_missing"] = self.counters.get("prompts_missing", 0) + 1
            logging.getLogger("cti.centre").warning("prompt skipped: %s", e)
            return b""

    def stop(self, call: Call) -> None:
        if call.playing or call.moh:
            self.trunks.channel(call).tone(0, ms=0)     # stops a played buffer and any tone
        call.playing = call.moh = False

    def start_moh(self, call: Call) -> None:
        if self.config.moh and self.prompts is not None:
            call.moh = True
            self.play(call, [self.config.moh])

    def announce(self, call: Call, position: int, ewt: float) -> None:
        """Tell a waiting caller its position and estimated wait over the music on hold;
        the music resumes when the announcement ends (the play-done loop)."""
        if not call.moh or self.prompts is None or call.state != "queued":
            return
        from cti.centre.prompts import say_number
        names = ["position"] + say_number(position)
        minutes = int(round(ewt / 60.0))
        if minutes >= 1:
            names += ["estimated_wait"] + say_number(minutes) + ["minutes"]
        names.append("please_hold")
        self.trunks.channel(call).tone(0, ms=0)
        self.play(call, names)
        self.events.call_event(call, "announced", position=position, ewt=round(ewt, 1))

    def audio(self, ev) -> None:
        """A tick of a tapped trunk channel's audio, both ways: into the recording (or the
        voicemail message) of the first call on the channel."""
        calls = self.table.trunk_calls.get((ev.span, ev.timeslot))
        if calls:
            call = calls[0]
            rec = call.voicemail or call.recording
            if rec is not None:
                rec.add(ev.data, ev.sent)
