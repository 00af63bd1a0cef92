"""The server's operations, one module per concern; each registers its operations
(cti/server/registry.py) with their argument and result schemas and events beside their
handlers. A handler is ``name(svc, args)`` (``svc``: the :class:`cti.server.service.Service`),
or, deferred, ``name(svc, args, rid=, token=)``; its name is the operation's with ``_``
for ``.`` (``call.transfer``: :func:`cti.server.ops.calls.call_transfer`).

========================  ================================================================
module                    operations
========================  ================================================================
``server``                ping, snapshot, replay, server.speed, server.stats, shutdown
``board``                 board.*, span.show/alarms/counters/loopback/bert
``channels``              channel.show, channel.tone, channel.listen (listens and taps)
``signalling``            pri.*, trace.* (D-channel traces), span.block/unblock/r2trace
``sim``                   sim.* (the simulated world: cables, exchange, phones, traffic)
``agents``                agent.*, queue.*
``calls``                 call.*
``campaigns``             campaign.*, dnc.*
``reports``               report.losses
``accounts``              admin.agent.*, admin.group.*, admin.audit, auth.login
``keys``                  key.issue, key.revoke, key.list (CurveZMQ client keys)
``desk``                  msg.*, book.*, agent.history, customer.*, call.wrapup
========================  ================================================================

Importing this package fills :data:`cti.server.registry.REGISTRY`, in this order.
"""
from cti.server.ops import (accounts, agents, board, calls, campaigns,  # noqa: F401
                            channels, desk, keys, reports, server,
                            signalling, sim)

#: the modules that hold operations
MODULES = (server, board, channels, signalling, sim, agents, calls, campaigns, reports,
           accounts, keys, desk)
