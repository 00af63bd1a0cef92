"""The embedded default configuration, used when no file is given: one simulated board
with two E1 spans and analog ports, the call centre on it, and the example IVR flows."""
from __future__ import annotations

from cti.centre.ivr import EXAMPLE_FLOWS_TOML


DEFAULT_TOML = """\
# The embedded default: a simulated board cabled to a simulated exchange.
[server]
home = "var"
replay_ring = 10000

[board]
name = "sim0"
backend = "sim"
tick_ms = 20

[[board.spans]]
number = 1
signalling = "pri"
crc4 = true
law = "alaw"

[[board.spans]]
number = 2
signalling = "pri"
crc4 = true
law = "alaw"

[[board.ports]]
kind = "fxs"
count = 8

[[board.ports]]
kind = "fxo"
count = 4

[sim]
seed = 1
cable_delay_bits = 3

# The call centre: eight agents on the FXS ports, two queues, the IVR on the PRI trunks.
[centre]
ivr_ports = 8
record = true
moh = "moh"

[[agents]]
first = 1001
count = 8
first_extension = 1

[[queues]]
name = "sales"
strategy = "longest-idle"
members = "all"
ring_timeout = 12
wrapup = 5
max_wait = 60
overflow = "voicemail:sales"

[[queues]]
name = "service"
strategy = "ring-all"
members = ["1001", "1002", "1003", "1004"]
ring_timeout = 12
wrapup = 5

[routing]
default = "ivr:main"
dnis = { "4008005555" = "queue:service" }
""" + EXAMPLE_FLOWS_TOML
