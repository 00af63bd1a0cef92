"""The call centre's sans-I/O core: calls and their legs, IVR, ACD (queues, strategies,
agents), transfer, consultation, supervision, outbound calls (dialer, campaigns), media
(prompts, music on hold, recordings) and prompts.

Everything here is driven by the board's line time (``now``) and the line events the
server hands it; nothing reads a clock or a socket (ARCHITECTURE.md rule 1). The one
exception is the recordings' disk writer thread (diskwriter.py), kept off the tick.

May import: ``drivers`` and this package. Never ``cti.server``, ``cti.store``,
``cti.clients`` or ``cti.scenarios``.
"""
