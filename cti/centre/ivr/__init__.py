"""IVR: flows written as data, run per call by a sans-I/O session; the IVR port pool.

Flows come from the configuration's ``[ivr.flows.NAME]`` tables; :func:`parse_flows`
checks them and returns :class:`Flow` objects, or raises :class:`FlowError` listing every
problem with its key path. :class:`IvrSession` runs one call through one flow,
h11/aioquic style: the centre passes inputs with ``now`` and takes events from
``next_event()``; it never reads a clock or touches a channel.

What lives here, one concern a module:

``flow.py``     the flow configuration: the node types and their keys (documented
                there), :class:`Flow`, :func:`parse_flows` / :func:`parse_flow` and their
                checks, :class:`FlowError`
``session.py``  running a caller through a flow: :class:`IvrSession`, its events
                (:class:`Play`, :class:`StopPlay`, :class:`Lookup`, :class:`DataChanged`)
                and outcomes (``OUTCOMES``: :class:`Route`, :class:`Voicemail`,
                :class:`Callback`, :class:`Hangup`, :class:`AbandonedInIvr`)
``ports.py``    :class:`IvrPorts`, the pool of IVR ports (a refused call is a counted loss)
``builtin.py``  flows that come with the centre: :func:`dissuasion_flow` (peak
                dissuasion) and ``EXAMPLE_FLOWS_TOML`` (the demo's flows)

May import: the standard library, :mod:`cti.centre.prompts` (prompt names, numbers said
as prompts) and this package.
"""
from __future__ import annotations

from cti.centre.ivr.builtin import DISSUASION_MODES, EXAMPLE_FLOWS_TOML, dissuasion_flow
from cti.centre.ivr.flow import (
    DTMF_DIGITS, NODE_TYPES, BranchNode, CallbackNode, CollectNode, Flow, FlowError,
    HangupNode, LookupNode, MenuNode, Node, PlayNode, QueueNode, SayNode, SetNode,
    VoicemailNode, parse_flow, parse_flows,
)
from cti.centre.ivr.ports import IvrPorts, PortCounters
from cti.centre.ivr.session import (
    OUTCOMES, AbandonedInIvr, Callback, DataChanged, Hangup, IvrEvent, IvrSession, Lookup,
    Play, Route, StopPlay, Voicemail,
)

__all__ = [
    "FlowError",
    "Flow",
    "Node",
    "PlayNode",
    "MenuNode",
    "CollectNode",
    "LookupNode",
    "SayNode",
    "QueueNode",
    "VoicemailNode",
    "CallbackNode",
    "SetNode",
    "BranchNode",
    "HangupNode",
    "NODE_TYPES",
    "parse_flow",
    "parse_flows",
    "dissuasion_flow",
    "DISSUASION_MODES",
    "IvrSession",
    "IvrEvent",
    "Play",
    "StopPlay",
    "Lookup",
    "Route",
    "Voicemail",
    "Callback",
    "Hangup",
    "DataChanged",
    "AbandonedInIvr",
    "OUTCOMES",
    "IvrPorts",
    "PortCounters",
    "DTMF_DIGITS",
    "EXAMPLE_FLOWS_TOML",
]
