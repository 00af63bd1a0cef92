"""boardcti's middleware: the call centre, the server, the store, the clients."""
import logging

# a library's loggers say nothing until the application sets them up (``cti serve`` does,
# cti/server/logs.py); without this Python's last-resort handler would print the line's alarms to
# the stderr of every program that runs a Service in-process (``cti sim peak``, benches)
logging.getLogger("cti").addHandler(logging.NullHandler())
