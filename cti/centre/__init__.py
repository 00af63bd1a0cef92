"""The call centre's sans-I/O core: calls and their legs, IVR, ACD (queues, strategies,
agents), transfer, consultation, supervision, outbound calls (dialer, campaigns), media
(prompts, music on hold, recordings) and prompts.

Everything here is driven by the board's line time (``now``) and the line events the
server hands it; nothing reads a clock or a socket (ARCHITECTURE.md rule 1). The one
exception is the recordings' disk writer thread (diskwriter.py), kept off the tick.

Where things live:

* coordinator.py: ``Centre``, the coordinator: builds the parts, dispatches a tick's line
  events and the ACD's and IVR's outputs to them, and answers the server's requests by
  delegation. Its parts, one concern each: calls.py (the call table and a tick's
  events), trunks.py (the trunk leg, FXO lines), inbound.py (call set-up and routing),
  ivrcalls.py (the IVR on a call, voicemail, callbacks), queueing.py (queueing, ringing,
  connecting, wrap-up), transfer.py, supervision.py, controls.py (hang-up, hold,
  retrieve, record), outbound.py (click-to-dial, the dialer's calls), survey.py,
  clearing.py (a call's end, its CDR, a failed call), agents.py (the roster),
  snapshot.py (snapshot views), callmedia.py (prompts and music on a call).
* acd/: the ACD state machine (agents, queues, strategies, timers, events, routing).
* ivr/: IVR flows (flow.py), the session running a caller through one, IVR ports.
* media.py and diskwriter.py (recordings), prompts.py (the prompt library, espeak-made
  defaults), dialer.py (the outbound dialer) and campaigns.py (it, run on the centre).

May import: ``drivers`` and this package. Never ``cti.server``, ``cti.store``,
``cti.clients`` or ``cti.scenarios``.
"""
