"""CurveZMQ key files: the server's key pair in its home and a client's key file.

Kept apart from the server's runtime so that a client (cti/clients/) reads its key
without loading the board. The format is ZeroMQ's certificate format (ZPL, RFC 4, as
``zmq.auth.create_certificates`` writes it and czmq's zcert reads it): a ``curve``
section with ``public-key`` and ``secret-key`` (Z85, RFC 32), and a ``metadata``
section; a client's file also names the server's public key it must trust
(``server-key``) and where the server listens (``requests``, ``events``).

Secret keys are written 0600, in a file created with that mode (never widened first).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KeyFile", "write_key_file", "read_key_file", "server_keys", "KEYS_DIR",
           "KeyFileError"]

KEYS_DIR = "keys"
SERVER_SECRET = "server.key_secret"
SERVER_PUBLIC = "server.key"

_LINE = re.compile(r'\s+([A-Za-z0-9_\-]+)\s*=\s*"([^"]*)"\s*')


class KeyFileError(ValueError):
    """A key file that cannot be used: names the file and what is wrong."""


@dataclass(frozen=True)
class KeyFile:
    """What a key file holds (keys as Z85 text)."""

    public: str
    secret: str | None
    server: str | None = None
    requests: str | None = None
    events: str | None = None
    name: str | None = None
    path: str | None = None


def _zpl(path: Path, metadata: dict, public: str, secret: str | None, banner: str) -> str:
    lines = [f"#   {banner}", "#   ZeroMQ CURVE certificate (ZPL): keep it private" if secret
             else "#   ZeroMQ CURVE public certificate", "", "metadata"]
    for k, v in metadata.items():
        if v is not None:
            lines.append(f'    {k} = "{v}"')
    lines += ["curve", f'    public-key = "{public}"']
    if secret is not None:
        lines.append(f'    secret-key = "{secret}"')
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Create (or replace) ``path`` with mode 0600 from the start."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_key_file(path: str | os.PathLike, public: str, secret: str, *,
                   server: str | None = None, requests: str | None = None,
                   events: str | None = None, name: str | None = None,
                   banner: str = "cti client key") -> Path:
    """Write a client's (or the server's) key pair to ``path``, mode 0600."""
    path = Path(path)
    meta = {"name": name, "server-key": server, "requests": requests, "events": events}
    _write_private(path, _zpl(path, meta, public, secret, banner))
    return path


def read_key_file(path: str | os.PathLike) -> KeyFile:
    """Read a key file; :class:`KeyFileError` naming the file when it is no key file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise KeyFileError(f"{path}: cannot read the key file: {e.strerror}") from None
    values: dict[str, str] = {}
    for line in text.splitlines():
        m = _LINE.fullmatch(line)
        if m:
            values[m.group(1)] = m.group(2)
    public = values.get("public-key")
    if not public or len(public) != 40:
        raise KeyFileError(f"{path}: no CURVE public-key (is it a cti key file?)")
    secret = values.get("secret-key")
    if secret is not None and len(secret) != 40:
        raise KeyFileError(f"{path}: the secret-key is not a Z85 key of 40 characters")
    server = values.get("server-key")
    if server is not None and len(server) != 40:
        raise KeyFileError(f"{path}: the server-key is not a Z85 key of 40 characters")
    return KeyFile(public, secret, server, values.get("requests"), values.get("events"),
                   values.get("name"), str(p))


def server_keys(home: str | os.PathLike, create: bool = True) -> KeyFile:
    """The server's own key pair, ``HOME/keys/server.key_secret`` (0600; the public half
    also in ``server.key``); made on first use."""
    d = Path(home) / KEYS_DIR
    secret = d / SERVER_SECRET
    if secret.exists() or not create:
        return read_key_file(secret)
    import zmq

    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    public, sec = (k.decode() for k in zmq.curve_keypair())
    write_key_file(secret, public, sec, name="server", banner="cti server key")
    (d / SERVER_PUBLIC).write_text(_zpl(d / SERVER_PUBLIC, {"name": "server"}, public, None,
                                        "cti server public key"))
    os.chmod(d / SERVER_PUBLIC, 0o600)
    return read_key_file(secret)
