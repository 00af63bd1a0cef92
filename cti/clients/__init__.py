"""Programs that talk to ``cti serve`` over its sockets: the client library (for
integrators), the ``cti`` command line, the terminal agent desk and the demo.

Clients use the server's requests and events only, with the same rights as anyone
(STYLE.md, "Shells stay thin"); the CLI also starts the server (``cti serve``) and runs
scenarios in-process. May import anything in ``cti``; nothing imports this package but
``cti.__main__``.
"""
