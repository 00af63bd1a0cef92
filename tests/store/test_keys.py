"""The store's keys table (cti/store/keys.py): public keys with their principal, revoked
never deleted, bad input refused naming the field."""
from __future__ import annotations

import pytest
import zmq

from cti.store.sqlite import Store


def pair() -> str:
    return zmq.curve_keypair()[0].decode()


def test_add_get_revoke_list():
    with Store() as s:
        p = pair()
        k = s.key_add(10.0, p, "sup", "supervisor")
        assert k == {"public": p, "name": "sup", "role": "supervisor", "agent": None,
                     "scopes": [], "issued": 10.0, "revoked": None}
        s.key_add(11.0, pair(), "crm", "integrator", scopes=["reports", "read", "read"])
        assert s.key_get("crm")["scopes"] == ["read", "reports"]
        assert s.key_get(p)["name"] == "sup"
        assert s.key_revoke(12.0, "sup")["revoked"] == 12.0
        assert s.key_revoke(13.0, p)["revoked"] == 12.0          # the first revocation
        assert [k["name"] for k in s.keys_list()] == ["sup", "crm"]
        assert [k["name"] for k in s.keys_list(revoked=False)] == ["crm"]
        with pytest.raises(LookupError):
            s.key_revoke(14.0, "nobody")


@pytest.mark.parametrize("args, field", [
    (dict(public="x" * 39, name="a", role="agent"), "key.public"),
    (dict(public=None, name="a", role="agent"), "key.public"),
    (dict(name="", role="agent"), "key.name"),
    (dict(name="a b", role="agent"), "key.name"),
    (dict(name="a", role="root"), "key.role"),
    (dict(name="a", role="integrator", scopes=["Calls!"]), "key.scopes"),
])
def test_bad_input_is_refused_naming_the_field(args, field):
    with Store() as s:
        args.setdefault("public", pair())
        with pytest.raises(ValueError) as e:
            s.key_add(1.0, **args)
        assert str(e.value).startswith(field)
        assert s.keys_list() == []


def test_a_name_and_a_key_are_issued_once():
    with Store() as s:
        p = pair()
        s.key_add(1.0, p, "a", "agent", "1001")
        s.key_revoke(2.0, "a")
        with pytest.raises(ValueError, match="key.name"):
            s.key_add(3.0, pair(), "a", "agent", "1001")
        with pytest.raises(ValueError, match="key.public"):
            s.key_add(3.0, p, "b", "agent", "1001")


def test_a_v4_home_gets_the_keys_table(tmp_path):
    from cti.store.sqlite import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "cti.db"
    Store(path, migrations=MIGRATIONS[:4]).close()
    with Store(path) as s:
        assert s.version == SCHEMA_VERSION and s.keys_list() == []
