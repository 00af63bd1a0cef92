"""What the call-centre concerns (agents, calls, campaigns) share: the centre, or an error
saying there is none, and the centre's refusals turned into request errors; the shapes
of an agent's status and of a call, as their results carry them."""
from __future__ import annotations

from cti.server.schema import INT, NUM, OBJ, STR, RequestError, nullable, obj

#: an agent's status (cti/centre/coordinator.py Centre.agent_status)
AGENT_STATUS = obj({"agent": STR, "state": STR, "reason": nullable(STR), "call": nullable(STR),
                    "extension": nullable(INT)})
#: a call (cti/centre/coordinator.py Centre.call_info)
CALL_INFO = obj({"call_id": STR, "state": STR, "trunk": nullable(STR), "ani": nullable(STR),
                 "dnis": nullable(STR), "queue": nullable(STR), "agent": nullable(STR),
                 "data": OBJ, "start": NUM})


def centre(svc):
    """The service's call centre, or ``not_supported`` when none is configured."""
    if svc.centre is None:
        raise RequestError("not_supported", "no call centre is configured on this server "
                           "(the config has no [[agents]] and [[queues]])", "op")
    return svc.centre


def centre_call(fn, a, field="args.call"):
    """``fn()``, with the centre's refusals as request errors naming ``field``: a thing
    it does not know is ``not_found``, a state that does not allow it ``failed``."""
    try:
        return fn()
    except LookupError as e:
        raise RequestError("not_found", str(e), field) from None
    except ValueError as e:
        raise RequestError("failed", str(e), field) from None
