"""``cti reload``: the configuration file read again and what changed applied while the
server runs.

The file the server was started with (or the embedded default) is read and checked as
at start (:func:`cti.server.config.load_config`, on the running server's home): a file
with any error is refused whole, every error as ``FILE:LINE: key: message``, and
nothing is applied. A file that passes is compared with what runs:

* the board (spans, ports, backend, device, tick), the simulated world, and the
  server's home, sockets, replay ring and log level are what the process was built on:
  a change there is named in ``needs_restart`` and not applied;
* the rest, the call centre's, goes to :meth:`cti.centre.coordinator.Centre.apply_config`
  (cti/centre/reconfigure.py), which leaves calls in progress as they are.

The reply and a ``server.reloaded`` event carry the same summary. Reading the file (and
making a default prompt a new flow plays that is missing from the home, with espeak-ng)
is disk and process work: in the server (:func:`cti.server.loop.serve` sets
``threaded``) it runs on a thread of its own, and the tick that follows applies the
result, between the board's events as a request would be; in a test's own process it is
done at once.
"""
from __future__ import annotations

import logging
import os
import threading
import tomllib
from typing import Any

from cti.server.config import Config, ConfigError, load_config
from cti.server.schema import RequestError

__all__ = ["Reloader", "restart_needed"]

log = logging.getLogger("cti.server")

#: [server] keys: the process was built on them
_SERVER_KEYS = ("home", "requests", "events", "replay_ring", "log_level")


class Reloader:
    """One ``server.reload`` at a time; ``svc``: the Service."""

    def __init__(self, svc):
        self.svc = svc
        self.threaded = False
        self._job: dict | None = None

    def start(self, token: Any, rid: Any) -> dict | None:
        """Begin a reload: the result now (not threaded), or None, the reply then coming
        out of a later :meth:`tick`."""
        if self._job is not None:
            raise RequestError("busy", "a reload is under way: ask again when it has replied")
        if not self.threaded:
            return self.apply(self._read_checked())
        job: dict = {"token": token, "rid": rid, "done": False}

        def run() -> None:
            try:
                job["config"] = self._read_checked()
            except BaseException as exc:   # noqa: BLE001 - handed to the tick as the reply
                job["error"] = exc
            job["done"] = True

        self._job = job
        threading.Thread(target=run, name="cti-reload", daemon=True).start()
        return None

    def tick(self) -> list[tuple[Any, dict]]:
        """The reload read by its thread, applied now: its reply (token, reply), if done."""
        job = self._job
        if job is None or not job["done"]:
            return []
        self._job = None
        svc = self.svc
        try:
            if "error" in job:
                raise job["error"]
            reply = svc._reply(job["rid"], self.apply(job["config"]))
        except RequestError as e:
            reply = svc._error(job["rid"], e)
        except (ValueError, LookupError) as e:
            reply = svc._error(job["rid"], RequestError("failed", str(e)))
        except Exception as e:
            svc._server_error("request.server.reload", e)
            reply = svc._error(job["rid"], RequestError("internal", f"{type(e).__name__}: {e}"))
        return [(job["token"], reply)]

    # ---- off the tick ----------------------------------------------------------------------

    def _read_checked(self) -> Config:
        """The file read and checked as at start; a RequestError listing its faults."""
        cfg = self.svc.config
        path = None if cfg.source == "<default>" else cfg.source
        try:
            new = load_config(path, home=cfg.server.home)
        except ConfigError as e:
            raise RequestError("failed", f"configuration refused, nothing changed:\n{e}",
                               "config") from None
        cc = new.centre
        running = self.svc.centre
        if cc is None or running is None:
            return new
        # the prompts the new flows play (and the music on hold, the survey's)
        needed = {n for f in cc.flows.values() for n in f.prompts()}
        needed |= {cc.moh} if cc.moh else set()
        needed |= {"survey"} if cc.survey_queues else set()
        if os.path.realpath(cc.prompts_dir) != os.path.realpath(running.config.prompts_dir):
            # a new prompts directory takes a restart: until then the flows play from the
            # running one, so what they name must be there
            missing = sorted(n for n in needed if running.prompts is not None
                             and n not in running.prompts)
            if missing:
                raise RequestError("failed", "configuration refused, nothing changed: "
                                   "centre.prompts changes at a restart, and until then "
                                   f"{running.config.prompts_dir} has no "
                                   f"{', '.join(missing)} for the new flows", "config")
        elif os.path.realpath(cc.prompts_dir).startswith(
                os.path.realpath(cfg.server.home) + os.sep):
            # inside the home the check at load counted on the server making a default
            # prompt that is missing (as at start): a new flow may play one
            from cti.centre.prompts import DEFAULT_PROMPTS, make_default_prompts
            missing = sorted(n for n in needed if n in DEFAULT_PROMPTS and not
                             os.path.exists(os.path.join(cc.prompts_dir, f"{n}.wav")))
            if missing:
                make_default_prompts(cc.prompts_dir, names=missing)
        return new

    # ---- on the tick -----------------------------------------------------------------------

    def apply(self, new: Config) -> dict:
        """Apply what can change of ``new`` now; the summary (also the event's)."""
        svc = self.svc
        restart = restart_needed(svc.config, new)
        centre: dict = {}
        if svc.centre is not None and new.centre is not None:
            # the accounts are the roster: the file's changes of agents and queue members
            # go to the store first, and the centre takes the store's (ops/accounts.py)
            from cti.server.ops.accounts import reload_roster
            with svc.store.db.atomic():
                seen = reload_roster(svc, new.centre)
                centre = svc.centre.apply_config(svc.board.line_seconds, new.centre)
            svc.file_roster = seen
            restart += [k for k in centre.pop("needs_restart") if k not in restart]
        elif (svc.centre is None) != (new.centre is None):
            restart.append("centre")
        result = {"source": new.source, "needs_restart": restart, **centre}
        result["changed"] = any(v for part in centre.values() if isinstance(part, dict)
                                for v in part.values())
        log.info("reloaded %s: %s", new.source, _line(result))
        svc._pending.append(svc.log.append(svc.ts(), "server.reloaded", "server.reloaded",
                                           **result))
        return result


def restart_needed(running: Config, new: Config) -> list[str]:
    """The keys of ``new`` that differ from what runs and take a restart to apply."""
    out = []
    rb, nb = running.board, new.board
    for key in ("name", "backend", "device", "tick_ms", "spans", "ports"):
        if getattr(rb, key) != getattr(nb, key):
            out.append(f"board.{key}")
    if running.sim != new.sim:
        for key in ("seed", "cable_delay_bits"):
            if getattr(running.sim, key, None) != getattr(new.sim, key, None):
                out.append(f"sim.{key}")
    # [server] as the files say it (``cti serve --home``/``--log-level`` override the
    # running values), and the sockets as they come out
    was, now = _server_table(running.text), _server_table(new.text)
    for key in _SERVER_KEYS:
        if was.get(key) != now.get(key) and f"server.{key}" not in out:
            out.append(f"server.{key}")
    for key in ("requests", "events"):
        if getattr(running.server, key) != getattr(new.server, key) \
                and f"server.{key}" not in out:
            out.append(f"server.{key}")
    return out


def _server_table(text: str) -> dict:
    try:
        t = tomllib.loads(text).get("server", {}) if text else {}
    except tomllib.TOMLDecodeError:
        return {}
    return t if isinstance(t, dict) else {}


def _line(result: dict) -> str:
    parts = []
    for kind, v in result.items():
        if isinstance(v, dict):
            parts += [f"{kind} {what}: {', '.join(names)}" for what, names in v.items() if names]
    if result["needs_restart"]:
        parts.append(f"needs a restart: {', '.join(result['needs_restart'])}")
    return "; ".join(parts) or "no change"
