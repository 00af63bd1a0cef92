"""Programs that talk to ``cti serve`` over its sockets: the client library (for
integrators), the ``cti`` command line, the terminal agent desk and the demo.

- ``client.py``: requests (``Client``, ``Requester``, ``AsyncRequester``), the
  ``Subscriber`` of ``cti watch``, the wire format;
- ``facade.py``: the typed facade on those clients, one class per concern
  (``client.calls.transfer(call, to, data=...)``), checked against the registry;
- ``stream.py``: the gap-free, reconnecting event streams (``EventStream``,
  ``AsyncEventStream``; also importable from ``client``);
- ``cli/``: the ``cti`` command, one module per concern of commands;
- ``agent_tui.py``, ``demo.py``: the terminal desk and the demo.

Clients use the server's requests and events only, with the same rights as anyone
(STYLE.md, "Shells stay thin"); the CLI also starts the server (``cti serve``) and runs
scenarios in-process. May import anything in ``cti``; nothing imports this package but
``cti.__main__``.
"""
