"""The server runtime, ``cti serve``: the tick loop and its clock (loop.py), the service
that composes the board, the centre and the store and dispatches requests (service.py),
the bus (events, the replay ring, the event sockets), requests (the registry, argument
checking and JSON Schema in schema.py, flow control; the operations by concern under
ops/), who may do and see what (auth.py, audience.py, the client keys: keyring.py,
keyfile.py; the home's modes: files.py), configuration, logging, recovery after a
restart, the report worker, the tracer.

May import: ``cti.centre``, ``cti.store``, ``drivers``, ``simulators`` (the simulated
world the embedded default runs on) and this package. Never ``cti.clients`` or
``cti.scenarios``. The client library imports ``bus``, ``endpoints``, ``keyfile`` and
(through ``bus``) ``audience`` and ``auth`` from here, so those stay free of the rest.
"""
