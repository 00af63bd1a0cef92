"""The server runtime, ``cti serve``: the tick loop and its clock, the bus (events, the
replay ring, PUB), requests (validation, flow control, dispatch), configuration, logging,
recovery after a restart, the report worker, the tracer.

May import: ``cti.centre``, ``cti.store``, ``drivers``, ``simulators`` (the simulated
world the embedded default runs on) and this package. Never ``cti.clients`` or
``cti.scenarios``. The client library imports ``bus`` and ``endpoints`` from here, so
those two stay free of the rest.
"""
