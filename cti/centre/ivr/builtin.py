"""Flows that come with the centre: the peak-dissuasion flow a queue's ``dissuade``
policy plays, and the example flows (the default demo flow; also a test fixture).
"""
from __future__ import annotations

from cti.centre.ivr.flow import Flow, parse_flow

DISSUASION_MODES = ("offer", "impose")


def dissuasion_flow(queue: str, mode: str = "offer") -> Flow:
    """The peak-dissuasion flow of ``queue`` (a queue's ``dissuade`` policy, the case of
    PRODUCT.md: at the peak the IVR answers, says an agent will call back, keeps the
    number). ``offer``: the caller presses 1 for a callback or stays on the line and
    waits in the queue after all; ``impose``: the caller is told and only confirms the
    number (1, another number, or silence for the ANI). Named ``dissuade:QUEUE``."""
    if mode not in DISSUASION_MODES:
        raise ValueError(f"dissuasion mode must be one of {', '.join(DISSUASION_MODES)}, "
                         f"not {mode!r}")
    confirm = {"type": "callback", "prompt": "callback_confirm", "queue": queue,
               "thanks": "callback_thanks", "confirm": "1", "ani_on_no_input": True,
               "timeout": 5, "interdigit": 3, "retries": 1}
    if mode == "offer":
        nodes = {
            "offer": {"type": "menu", "prompt": ["peak_busy", "callback_offer"],
                      "branches": {"1": "confirm"}, "timeout": 5, "retries": 0,
                      "on_fail": "hold"},
            "confirm": confirm,
            "hold": {"type": "queue", "queue": queue, "prompt": "please_hold"},
        }
        start = "offer"
    else:
        nodes = {"notice": {"type": "play", "prompt": "peak_busy", "next": "confirm",
                            "barge_in": True},
                 "confirm": confirm}
        start = "notice"
    name = f"dissuade:{queue}"
    return parse_flow(name, {"start": start, "nodes": nodes,
                             "description": f"peak dissuasion ({mode}) of queue {queue}"})


EXAMPLE_FLOWS_TOML = '''
[ivr.flows.main]
start = "welcome"
fail_prompt = "goodbye"

[ivr.flows.main.nodes.welcome]
type = "play"
prompt = "welcome"
next = "menu"
barge_in = true

[ivr.flows.main.nodes.menu]
type = "menu"
prompt = "menu"
timeout = 5
retries = 2
invalid = "invalid"
no_input = "no_input"
on_fail = "sales"
branches = { 1 = "order", 2 = "sales", 3 = "message", 4 = "callback" }

[ivr.flows.main.nodes.order]
type = "collect"
prompt = "enter_order"
store_as = "order_id"
min_digits = 3
max_digits = 10
next = "find_order"
on_fail = "sales"

[ivr.flows.main.nodes.find_order]
type = "lookup"
table = "orders"
key = "order_id"
column = "order_id"
store_as = "order"
found = "say_status"
missing = "not_found"

[ivr.flows.main.nodes.say_status]
type = "say"
value = "order.status"
as = "prompt"
prefix = "order_status_"
before = ["order_status"]
missing = "sales"
next = "menu"

[ivr.flows.main.nodes.not_found]
type = "play"
prompt = "order_not_found"
next = "menu"

[ivr.flows.main.nodes.sales]
type = "queue"
queue = "sales"
prompt = "please_hold"

[ivr.flows.main.nodes.message]
type = "voicemail"
box = "sales"

[ivr.flows.main.nodes.callback]
type = "callback"
queue = "sales"
'''
