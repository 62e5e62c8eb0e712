"""Stories of an identity provider pushing people and groups into accessflow through SCIM.

Everything goes through the same lifecycle as the admin pages: a SCIM `active: false` or a
DELETE is a leaver, a membership change drives group-based provisioning."""

import json

import pytest
from sqlalchemy import select

from engine.access import groups as access_groups
from engine.db import db
from engine.directory.tokens import issue_token
from engine.models import Assignment, AuditEvent, Group, User
from engine.scim.tokens import revoke_scim_token
from tests.flow import act
from tests.scim_client import ENTERPRISE, ERROR, IdentityProvider


@pytest.fixture
def idp(app):
    return IdentityProvider(app, "entra")


def person(username):
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == username))


def test_a_joiner_pushed_by_the_idp_is_a_person_with_a_manager_and_an_audit_row(idp):
    mark = person("mark")
    created = idp.create_user(
        "nora",
        externalId="entra-42",
        name={"givenName": "Nora", "familyName": "North"},
        displayName="Nora North",
        title="Engineer",
        emails=[{"value": "nora@example.com", "type": "work", "primary": True}],
        **{
            ENTERPRISE: {
                "department": "R&D",
                "employeeNumber": "701",
                "manager": {"value": mark.id},
            }
        },
    )
    nora = person("nora")
    assert created["id"] == nora.id
    assert (nora.first_name, nora.last_name, nora.email) == ("Nora", "North", "nora@example.com")
    assert (nora.department, nora.title, nora.external_id) == ("R&D", "Engineer", "entra-42")
    assert nora.manager.username == "mark"
    assert created[ENTERPRISE]["employeeNumber"] == "701"  # kept as it came
    assert created["meta"]["version"].startswith('W/"')
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "user_created"))
    assert event.comment == "scim" and event.details["actor_name"] == "scim:entra"
    every_row = json.dumps([e.details for e in db.session.scalars(select(AuditEvent))])
    assert idp.token not in every_row


def test_entra_turning_active_to_the_string_false_is_a_leaver(idp, people):
    bob = person("bob")
    act(access_groups.add_member, None, "crm-approvers", "bob")
    response = idp.patch(f"/Users/{bob.id}", {"op": "Replace", "path": "active", "value": "False"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["active"] is False
    bob = person("bob")
    assert bob.active is False and bob.groups == []  # a leaver leaves every group
    events = [e.event for e in db.session.scalars(select(AuditEvent))]
    assert "user_deactivated" in events


def test_a_path_less_replace_with_a_dict_changes_names_and_the_manager_as_a_bare_id(idp):
    alice, bob = person("alice"), person("bob")
    response = idp.patch(
        f"/Users/{alice.id}",
        {
            "op": "replace",
            "value": {
                "name.familyName": "Archer-Smith",
                "title": "Lead",
                f"{ENTERPRISE}:manager": bob.id,  # Entra sends the id alone
            },
        },
    )
    assert response.status_code == 200, response.get_json()
    alice = person("alice")
    assert (alice.last_name, alice.title, alice.manager.username) == ("Archer-Smith", "Lead", "bob")
    assert response.get_json()[ENTERPRISE]["manager"]["value"] == bob.id


def test_a_deleted_person_is_a_leaver_gone_from_scim_but_kept_in_the_history(idp):
    nora = idp.create_user("nora")
    assert idp.delete(f"/Users/{nora['id']}").status_code == 204
    assert idp.get(f"/Users/{nora['id']}").status_code == 404
    listed = idp.get('/Users?filter=userName eq "nora"').get_json()
    assert listed["totalResults"] == 0
    assert person("nora").active is False  # the row stays, deactivated
    again = idp.create_user("nora")  # a rehire: the same person comes back
    assert again["id"] == nora["id"] and person("nora").active is True


def test_okta_adding_and_removing_members_drives_group_based_provisioning(idp, people):
    act(access_groups.add_application, None, "crm-approvers", "crm")
    group = db.session.scalar(select(Group).where(Group.name == "crm-approvers"))
    bob = person("bob")
    added = idp.patch(
        f"/Groups/{group.id}",
        {"op": "add", "path": "members", "value": [{"value": bob.id, "display": "Bob"}]},
    )
    assert added.status_code == 200, added.get_json()
    assert bob.id in {m["value"] for m in added.get_json()["members"]}
    held = select(Assignment).where(Assignment.user_id == bob.id, Assignment.ended_at.is_(None))
    assert db.session.scalar(held) is not None  # the group's grant reached the new member
    removed = idp.patch(
        f"/Groups/{group.id}", {"op": "remove", "path": f'members[value eq "{bob.id}"]'}
    )
    assert removed.status_code == 200, removed.get_json()
    db.session.expire_all()
    assert db.session.scalar(held) is None  # and ended when he left
    assert "bob" not in {u.username for u in person("bob").groups}


def test_a_group_pushed_with_members_and_listed_by_member(idp):
    alice, bob = person("alice"), person("bob")
    created = idp.create_group("sales", members=[alice.id, bob.id])
    found = idp.get(f'/Groups?filter=members[value eq "{alice.id}"] and displayName sw "SA"')
    assert [g["id"] for g in found.get_json()["Resources"]] == [created["id"]]
    assert {"alice", "bob"} <= {u.username for u in db.session.get(Group, created["id"]).members}


@pytest.mark.parametrize(
    "scim_filter, expected",
    [
        ('userName eq "ALICE"', {"alice"}),  # userName ignores case
        ('userName sw "f"', {"fred", "fiona"}),
        ('emails.value ew "@example.com" and userName co "ob"', {"bob"}),
        ('emails[value eq "gina@example.com"]', {"gina"}),
        ('name.familyName eq "Baker" or userName eq "stan"', {"bob", "stan"}),
        ('name.givenName pr and not (userName eq "bob")', {"alice"}),
        ('(userName eq "fred" or userName eq "dora") and not (title pr)', {"fred", "dora"}),
        ('userName gt "r" and userName lt "t"', {"root", "stan"}),
        ('userName ne "x" and displayName co "root"', {"root"}),
    ],
)
def test_filters_run_as_sql_over_the_directory(idp, scim_filter, expected):
    response = idp.get("/Users", query_string={"filter": scim_filter, "count": 100})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert {u["userName"] for u in body["Resources"]} == expected
    assert body["totalResults"] == len(expected)


def test_a_filter_on_the_manager_and_department_of_the_enterprise_extension(idp):
    mark = person("mark")
    query = {"filter": f'{ENTERPRISE}:manager.value eq "{mark.id}" and userName sw "a"'}
    body = idp.get("/Users", query_string=query).get_json()
    assert [u["userName"] for u in body["Resources"]] == ["alice"]


def test_pages_are_sorted_and_counted(idp):
    query = {"sortBy": "userName", "sortOrder": "descending", "startIndex": 2, "count": 3}
    body = idp.get("/Users", query_string=query).get_json()
    assert [u["userName"] for u in body["Resources"]] == ["root", "mark", "gina"]
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (9, 2, 3)


def test_attributes_and_excluded_attributes_shape_the_answer(idp):
    alice = person("alice")
    only = idp.get(f"/Users/{alice.id}?attributes=userName").get_json()
    assert only["userName"] == "alice" and "emails" not in only and "name" not in only
    without = idp.get(f"/Users/{alice.id}?excludedAttributes=emails").get_json()
    assert "emails" not in without and without["name"]["givenName"] == "Alice"


def test_a_stale_if_match_is_refused_and_changes_nothing(idp):
    alice = person("alice")
    version = idp.get(f"/Users/{alice.id}").get_json()["meta"]["version"]
    stale = idp.patch(
        f"/Users/{alice.id}",
        {"op": "replace", "path": "title", "value": "CEO"},
        headers={"If-Match": 'W/"not-it"'},
    )
    assert stale.status_code == 412 and person("alice").title is None
    fresh = idp.patch(
        f"/Users/{alice.id}",
        {"op": "replace", "path": "title", "value": "CEO"},
        headers={"If-Match": version},
    )
    assert fresh.status_code == 200 and person("alice").title == "CEO"
    assert fresh.get_json()["meta"]["version"] != version


def test_scim_and_api_tokens_are_not_interchangeable_and_a_revoked_one_stops(app, idp):
    api_token = act(issue_token, "root")
    client = app.test_client()
    refused = client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {api_token}"})
    assert refused.status_code == 401 and refused.get_json()["schemas"] == [ERROR]
    as_api = client.get("/api/v1/me", headers={"Authorization": f"Bearer {idp.token}"})
    assert as_api.status_code == 401
    assert idp.get("/Users").status_code == 200
    act(revoke_scim_token, "entra")
    assert idp.get("/Users").status_code == 401
    assert client.get("/scim/v2/ServiceProviderConfig").status_code == 200  # needs no token


def test_entra_changing_the_work_email_by_a_value_path(idp):
    alice = person("alice")
    response = idp.patch(
        f"/Users/{alice.id}",
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "alice@new.example"},
    )
    assert response.status_code == 200, response.get_json()
    assert person("alice").email == "alice@new.example"
    assert [e["value"] for e in response.get_json()["emails"]] == ["alice@new.example"]


def test_an_admin_lists_and_revokes_scim_tokens_through_the_api_without_seeing_them(app, idp):
    client = app.test_client()
    admin = {"Authorization": f"Bearer {act(issue_token, 'root')}"}
    listed = client.get("/api/v1/admin/scim-tokens", headers=admin)
    assert listed.status_code == 200
    assert [t["name"] for t in listed.get_json()["items"]] == ["entra"]
    assert idp.token not in listed.get_data(as_text=True)
    alice = {"Authorization": f"Bearer {act(issue_token, 'alice')}"}
    assert client.delete("/api/v1/admin/scim-tokens/entra", headers=alice).status_code == 403
    assert idp.get("/Users").status_code == 200
    used = client.get("/api/v1/admin/scim-tokens", headers=admin).get_json()["items"][0]
    assert used["last_used_at"] is not None
    assert client.delete("/api/v1/admin/scim-tokens/entra", headers=admin).status_code == 204
    assert idp.get("/Users").status_code == 401
    revoked = client.get("/api/v1/admin/scim-tokens", headers=admin).get_json()["items"][0]
    assert revoked["revoked_at"] is not None


def test_people_are_found_by_the_groups_they_are_in(idp):
    approvers = db.session.scalar(select(Group.id).where(Group.name == "crm-approvers"))
    query = {"filter": f'groups[value eq "{approvers}"] or groups.value eq "none"'}
    body = idp.get("/Users", query_string=query).get_json()
    assert [u["userName"] for u in body["Resources"]] == ["gina"]
    assert body["Resources"][0]["groups"][0]["display"] == "crm-approvers"


def test_entra_setting_a_work_email_on_someone_without_one_adds_it(idp):
    nora = idp.create_user("nora")
    response = idp.patch(
        f"/Users/{nora['id']}",
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "nora@example.com"},
    )
    assert response.status_code == 200, response.get_json()
    assert person("nora").email == "nora@example.com"
    assert response.get_json()["emails"] == [{"type": "work", "value": "nora@example.com"}]


def test_deleting_a_group_ends_what_it_granted_and_hides_it(idp):
    bob = person("bob")
    sales = idp.create_group("sales", members=[bob.id])
    act(access_groups.add_application, None, "sales", "crm")
    held = select(Assignment).where(Assignment.user_id == bob.id, Assignment.ended_at.is_(None))
    assert db.session.scalar(held) is not None
    assert idp.delete(f"/Groups/{sales['id']}").status_code == 204
    db.session.expire_all()
    assert db.session.scalar(held) is None
    assert idp.get(f"/Groups/{sales['id']}").status_code == 404
    assert idp.get('/Groups?filter=displayName eq "sales"').get_json()["totalResults"] == 0


def test_a_put_replaces_the_person_and_what_it_leaves_out_is_cleared(idp):
    alice = person("alice")
    current = idp.get(f"/Users/{alice.id}").get_json()
    replaced = idp.put(
        f"/Users/{alice.id}",
        {
            "schemas": current["schemas"],
            "userName": "alice",
            "displayName": "Alice A.",
            "name": {"givenName": "Alice"},
        },
        headers={"If-Match": current["meta"]["version"]},
    )
    assert replaced.status_code == 200, replaced.get_json()
    alice = person("alice")
    assert (alice.display_name, alice.first_name, alice.last_name) == ("Alice A.", "Alice", None)
    assert alice.email is None and alice.manager is None  # left out: cleared (a mover too)
