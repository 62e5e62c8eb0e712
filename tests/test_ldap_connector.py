"""Stories of the LDAP connector against a real slapd (tests/ldap_server.py): an account is an
entry, found by its entryUUID after renames and moves, disabled per the configured strategy,
listed page by page; values are escaped and the bind password never shows."""

import uuid

import pytest
from ldap3.core.exceptions import (
    LDAPBusyResult,
    LDAPInvalidCredentialsResult,
    LDAPNoSuchObjectResult,
    LDAPResponseTimeoutError,
    LDAPSocketOpenError,
)

from connectors import ConnectorConfigError, ConnectorError, MissingAttribute, connector_for
from connectors.ldap import LdapConnector
from connectors.ldap_mapping import account_disabled_uac, uac_is_active
from tests.ldap_server import (
    SERVICE_PASSWORD,
    SIZE_LIMIT,
    SUFFIX,
    ldap_directory,  # noqa: F401
    slapd_server,  # noqa: F401
)

ALICE = {
    "id": "u-alice",
    "username": "alice",
    "email": "alice@example.com",
    "display_name": "Alice Archer",
    "first_name": "Alice",
    "last_name": "Archer",
}


def person(username, **fields):
    return {**ALICE, "id": f"u-{username}", "username": username, **fields}


def only(entries: dict) -> tuple[str, dict]:
    [(dn, attributes)] = entries.items()
    return dn, attributes


def text(attributes, name) -> list[str]:
    return [v.decode() for v in attributes.get(name, [])]


def test_an_account_is_created_as_an_entry_named_by_its_entry_uuid(ldap_directory):  # noqa: F811
    with connector_for(ldap_directory.settings()) as connector:
        assert connector.test_connection()["bound_as"] == "dn:cn=accessflow," + SUFFIX
        account = connector.create_account(ALICE)

    dn, entry = only(ldap_directory.entries())
    assert dn == f"uid=alice,{ldap_directory.people}"
    assert text(entry, "cn") == ["Alice Archer"] and text(entry, "sn") == ["Archer"]
    assert text(entry, "mail") == ["alice@example.com"]
    assert text(entry, "givenName") == ["Alice"]
    assert account["external_id"] == text(entry, "entryUUID")[0]
    assert (account["user_name"], account["active"], account["linked"]) == ("alice", True, False)
    assert account["attributes"] == {
        "username": "alice",
        "email": "alice@example.com",
        "display_name": "Alice Archer",
        "first_name": "Alice",
        "last_name": "Archer",
    }


def test_a_person_without_names_gets_the_username_as_cn_and_sn(ldap_directory):  # noqa: F811
    with connector_for(ldap_directory.settings()) as connector:
        account = connector.create_account({"id": "u-gina", "username": "gina", "email": None})
    _, entry = only(ldap_directory.entries())
    assert (text(entry, "cn"), text(entry, "sn"), text(entry, "mail")) == (["gina"], ["gina"], [])
    # Read back as the directory has it: no last name, no display name (no false drift).
    assert account["attributes"] == {
        "username": "gina",
        "email": None,
        "display_name": None,
        "first_name": None,
        "last_name": None,
    }


def test_an_existing_entry_is_linked_not_duplicated(ldap_directory):  # noqa: F811
    dn = ldap_directory.add_person("ALICE", mail="old@example.com")
    with connector_for(ldap_directory.settings()) as connector:
        account = connector.create_account(ALICE)
        again = connector.create_account(ALICE, looked_up=True)  # the add collides: linked

    assert account["linked"] is True and again["linked"] is True
    assert list(ldap_directory.entries()) == [dn]
    assert account["external_id"] == again["external_id"]


def test_a_missing_mandatory_value_fails_before_any_call(ldap_directory):  # noqa: F811
    with connector_for(ldap_directory.settings()) as connector:
        with pytest.raises(MissingAttribute) as info:
            connector.create_account(person(" "))
    assert info.value.attribute == "uid" and info.value.retryable is False
    assert ldap_directory.entries() == {}


def test_an_update_after_a_rename_follows_the_entry_uuid(ldap_directory):  # noqa: F811
    with connector_for(ldap_directory.settings()) as connector:
        created = connector.create_account(ALICE)
        renamed = person("alice.baker", last_name="Baker", display_name="Alice Baker", email=None)
        updated = connector.update_account(created["external_id"], renamed)

    dn, entry = only(ldap_directory.entries())
    assert dn == f"uid=alice.baker,{ldap_directory.people}"
    assert text(entry, "uid") == ["alice.baker"]  # the old RDN value is gone
    assert text(entry, "sn") == ["Baker"] and text(entry, "cn") == ["Alice Baker"]
    assert text(entry, "mail") == []  # a value the directory no longer has is removed
    assert updated["external_id"] == created["external_id"] == text(entry, "entryUUID")[0]
    assert updated["attributes"]["last_name"] == "Baker" and updated["attributes"]["email"] is None


def test_ppolicy_lock_disables_and_an_update_does_not_re_enable(ldap_directory):  # noqa: F811
    if not ldap_directory.server.ppolicy:
        pytest.skip("slapd has no ppolicy overlay module")
    with connector_for(ldap_directory.settings()) as connector:
        account = connector.create_account(ALICE)
        disabled = connector.disable_account(account["external_id"])
        after_update = connector.update_account(account["external_id"], ALICE)
        listed = connector.list_accounts()

    _, entry = only(ldap_directory.entries())
    assert text(entry, "pwdAccountLockedTime") == ["000001010000Z"]
    assert disabled["active"] is False and after_update["active"] is False
    assert [a["active"] for a in listed] == [False]


def test_a_custom_flag_attribute_disables(ldap_directory):  # noqa: F811
    settings = ldap_directory.settings(
        disable_attribute="employeeType",
        disable_value="disabled",
        attribute_map={"employeeType": None},
    )
    with connector_for(settings) as connector:
        account = connector.create_account(ALICE)
        assert connector.disable_account(account["external_id"])["active"] is False
    _, entry = only(ldap_directory.entries())
    assert text(entry, "employeeType") == ["disabled"]


def test_move_strategy_moves_the_entry_and_still_finds_it(ldap_directory):  # noqa: F811
    settings = ldap_directory.settings(disable_strategy="move", disabled_dn=ldap_directory.disabled)
    with connector_for(settings) as connector:
        account = connector.create_account(ALICE)
        disabled = connector.disable_account(account["external_id"])
        assert connector.disable_account(account["external_id"])["active"] is False  # no-op
        found = connector.find_account(ALICE)
        connector.delete_account(account["external_id"])  # no hard delete: stays disabled

    dn, _ = only(ldap_directory.entries())
    assert dn == f"uid=alice,{ldap_directory.disabled}"
    assert disabled["active"] is False and disabled["external_id"] == account["external_id"]
    assert found is not None and found["active"] is False


def test_hard_delete_removes_the_entry_and_a_second_delete_is_done(ldap_directory):  # noqa: F811
    with connector_for(ldap_directory.settings(supports_hard_delete=True)) as connector:
        account = connector.create_account(ALICE)
        connector.delete_account(account["external_id"])
        connector.delete_account(account["external_id"])  # already gone: nothing to do
        with pytest.raises(ConnectorError) as info:
            connector.disable_account(account["external_id"])
    assert ldap_directory.entries() == {}
    assert info.value.retryable is False and "not found" in info.value.message


def test_active_directory_user_account_control_values():
    """No Active Directory runs here: only the value computation of the `ad` strategy is
    tested; the modify it sends is the same replace the `attribute` strategy proves on slapd."""
    assert account_disabled_uac(512) == 514  # NORMAL_ACCOUNT -> + ACCOUNTDISABLE
    assert account_disabled_uac("66048") == 66050  # + DONT_EXPIRE_PASSWORD kept
    assert account_disabled_uac(514) == 514  # already disabled: unchanged
    assert account_disabled_uac(None) == 514
    assert uac_is_active("512") and not uac_is_active(514) and uac_is_active(None)
    with pytest.raises(ConnectorError):
        account_disabled_uac("not-a-number")


# --- many accounts ------------------------------------------------------------------------


def test_paging_streams_more_entries_than_the_servers_size_limit(ldap_directory):  # noqa: F811
    count = SIZE_LIMIT + 15
    for n in range(count):
        ldap_directory.add_person(f"p{n:03}")
    with connector_for(ldap_directory.settings(page_size=10)) as connector:
        # Without paging the server stops at its size limit, so every entry proves the paging.
        plain = connector._conn()
        plain.raise_exceptions = False
        plain.search(ldap_directory.people, "(objectClass=person)")
        assert plain.result["description"] == "sizeLimitExceeded"
        plain.raise_exceptions = True

        stream = connector.iter_accounts(page_size=7)
        first = next(stream)  # a generator: the first account comes before the last page
        names = [first["user_name"]] + [a["user_name"] for a in stream]
        listed = connector.list_accounts()
    assert sorted(names) == [f"p{n:03}" for n in range(count)]
    assert len(listed) == count


def test_many_users_are_looked_up_in_one_search(ldap_directory):  # noqa: F811
    for n in range(30):
        ldap_directory.add_person(f"p{n:03}")
    users = [person(f"p{n:03}") for n in range(0, 40, 2)]  # 15 exist, 5 do not
    with connector_for(ldap_directory.settings()) as connector:
        searches = []
        search = connector._search
        connector._search = lambda *args: searches.append(args) or search(*args)
        found = connector.find_accounts(users)
    assert len(searches) == 1
    assert [a and a["user_name"] for a in found] == [
        f"p{n:03}" if n < 30 else None for n in range(0, 40, 2)
    ]


# --- injection ----------------------------------------------------------------------------


def test_filter_injection_matches_nothing_and_is_stored_literally(ldap_directory):  # noqa: F811
    ldap_directory.add_person("bob")
    hostile = person("*)(uid=*")
    with connector_for(ldap_directory.settings()) as connector:
        assert connector.find_account(hostile) is None  # not bob, not everybody
        assert connector.find_account(person("*")) is None
        assert connector.find_accounts([person("b*"), person("bob")])[0] is None
        created = connector.create_account(hostile)
        assert connector.find_account(hostile)["external_id"] == created["external_id"]
        updated = connector.update_account(created["external_id"], {**hostile, "email": None})
        assert updated["dn"] == created["dn"]  # the same name: no rename
        with pytest.raises(ConnectorError) as info:
            connector.update_account("*", ALICE)  # an id is a UUID or nothing
    assert "not a UUID" in info.value.message
    assert created["attributes"]["username"] == "*)(uid=*"
    assert len(ldap_directory.entries()) == 2


def test_dn_injection_stays_one_entry_below_the_base(ldap_directory):  # noqa: F811
    with connector_for(ldap_directory.settings()) as connector:
        account = connector.create_account(person(f"eve,ou=disabled,{ldap_directory.root}"))
    dn, entry = only(ldap_directory.entries())
    assert dn.endswith(f",{ldap_directory.people}") and dn.count(",ou=people,") == 1
    assert text(entry, "uid") == [f"eve,ou=disabled,{ldap_directory.root}"]
    assert account["user_name"] == f"eve,ou=disabled,{ldap_directory.root}"


# --- failures -----------------------------------------------------------------------------


def test_a_server_down_is_retryable_and_the_connector_reconnects(ldap_directory):  # noqa: F811
    with connector_for(ldap_directory.settings(timeout=2)) as connector:
        connector.test_connection()
        ldap_directory.server.stop()
        try:
            with pytest.raises(ConnectorError) as info:
                connector.create_account(ALICE)
        finally:
            ldap_directory.server.start()
        assert info.value.retryable is True
        assert connector.create_account(ALICE)["active"] is True  # a new connection
    assert len(ldap_directory.entries()) == 1


def test_bad_credentials_are_not_retryable_and_never_show_the_password(ldap_directory):  # noqa: F811
    wrong = "wrong-" + SERVICE_PASSWORD
    with connector_for(ldap_directory.settings(bind_password=wrong)) as connector:
        with pytest.raises(ConnectorError) as info:
            connector.test_connection()
        text_seen = f"{info.value} {info.value!r} {connector!r} {vars(connector)}"
    assert info.value.retryable is False and "invalidCredentials" in info.value.message
    assert wrong not in text_seen and "***" in repr(connector)


def test_a_connector_holds_no_password_anywhere_it_could_be_printed(ldap_directory):  # noqa: F811
    with connector_for(ldap_directory.settings()) as connector:
        connector.test_connection()
        dumped = f"{connector!r} {vars(connector)} {connector._conn()!r} {vars(connector._conn())}"
    assert SERVICE_PASSWORD not in dumped


@pytest.mark.parametrize(
    ("raised", "retryable"),
    [
        (LDAPSocketOpenError("connection refused"), True),
        (LDAPResponseTimeoutError("no answer"), True),
        (LDAPBusyResult(result=51, description="busy"), True),
        (LDAPInvalidCredentialsResult(result=49, description="invalidCredentials"), False),
        (LDAPNoSuchObjectResult(result=32, description="noSuchObject"), False),
    ],
)
def test_ldap_errors_are_classified(raised, retryable):
    connector = LdapConnector({"type": "ldap", "url": "ldap://127.0.0.1:9", "base_dn": SUFFIX})
    with pytest.raises(ConnectorError) as info:
        with connector._ldap("add"):
            raise raised
    assert info.value.retryable is retryable and info.value.message.startswith("LDAP add")


# --- settings -----------------------------------------------------------------------------

GOOD = {"type": "ldap", "url": "ldap://127.0.0.1:389", "base_dn": SUFFIX}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"type": "ldap", "base_dn": SUFFIX}, "'url' is required"),
        ({**GOOD, "url": "http://x"}, "ldap:// or ldaps://"),
        ({**GOOD, "url": "ldap://u:pw@x"}, "must not embed credentials"),
        ({**GOOD, "url": "ldaps://x", "start_tls": True}, "'start_tls' needs ldap://"),
        ({**GOOD, "base_dn": "not a dn"}, "'base_dn' is not a valid DN"),
        ({**GOOD, "bind_dn": "cn=x," + SUFFIX}, "'bind_dn' and 'bind_password' go together"),
        ({**GOOD, "disable_strategy": "move"}, "'disabled_dn' is required"),
        ({**GOOD, "disable_strategy": "lock"}, "'disable_strategy' must be one of"),
        ({**GOOD, "attribute_map": {"uid)(cn=*": "username"}}, "is not an attribute name"),
        ({**GOOD, "attribute_map": {"mail": "salary"}}, "must name directory fields"),
        ({**GOOD, "attribute_map": {"uid": None}}, "must map the rdn_attribute 'uid'"),
        ({**GOOD, "user_object_classes": ["person)(x"]}, "'user_object_classes'"),
        ({**GOOD, "timeout": 0}, "'timeout' must be a positive number"),
        ({**GOOD, "id_attribute": "dn"}, "'id_attribute' must be one of"),
        ({**GOOD, "ca_certs_file": ""}, "'ca_certs_file' must be the path of a PEM file"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(settings, message):
    with pytest.raises(ConnectorConfigError) as info:
        connector_for(settings)
    assert message in info.value.message and info.value.retryable is False


# --- TLS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["starttls", "ldaps"])
def test_tls_verifies_the_servers_certificate(ldap_directory, scheme):  # noqa: F811
    server = ldap_directory.server
    url = {"starttls": server.url, "ldaps": server.ldaps_url}[scheme]
    tls = {"url": url, "start_tls": scheme == "starttls"}
    trusted = ldap_directory.settings(**tls, ca_certs_file=server.ca_file)
    with connector_for(trusted) as connector:
        assert connector.test_connection()["tls"] is True
        assert connector._conn().tls_started or scheme == "ldaps"
        connector.create_account(ALICE)
    assert len(ldap_directory.entries()) == 1

    with connector_for(ldap_directory.settings(**tls)) as connector:  # our CA is not trusted
        with pytest.raises(ConnectorError) as info:
            connector.test_connection()
    assert info.value.retryable is False and "CERTIFICATE_VERIFY_FAILED" in info.value.message


def test_active_directory_settings_name_entries_by_object_guid():
    """No Active Directory runs here: the objectGUID filter and the account read from an AD
    answer are computed values, checked as such."""
    ad = LdapConnector(
        {
            **GOOD,
            "id_attribute": "objectGUID",
            "disable_strategy": "ad",
            "user_object_classes": ["user"],
            "rdn_attribute": "cn",
            "matching_attribute": "sAMAccountName",
            "attribute_map": {"sAMAccountName": "username", "uid": None, "cn": "display_name"},
        }
    )
    guid = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")
    escaped = "".join(f"\\{byte:02x}" for byte in guid.bytes_le)  # stored little-endian
    assert ad.mapping.id_filter(str(guid)) == f"(&(objectClass=user)(objectGUID={escaped}))"
    answer = {
        "dn": "CN=Alice Archer,OU=People,DC=example,DC=test",
        "raw_attributes": {
            "objectGUID": [guid.bytes_le],
            "sAMAccountName": [b"alice"],
            "cn": [b"Alice Archer"],
            "userAccountControl": [b"514"],
        },
    }
    account = ad.mapping.account(answer)
    assert (account["external_id"], account["user_name"], account["active"]) == (
        str(guid),
        "alice",
        False,
    )
    assert ad.mapping.read_attributes()[-1] == "userAccountControl"
