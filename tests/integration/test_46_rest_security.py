#!/usr/bin/python3
"""Principals and roles in the admin REST API (docs/operations.md,
"Principals and roles"): GET /api/v1/principals and /api/v1/roles list the
store's names, roles, permissions and includes (never a password hash),
need VIEW_SECURITY; changes need MODIFY_SECURITY; without a store the lists
are empty and changes are refused with NO_STORE."""

import json

import mqtt_test
import test_45_rest as base
from mqtt_test import *  # noqa: F401,F403

# test_45's cases are not run here: only its server and helpers are used.
del mqtt_test._CASES[:]

expect = base.expect
error_code_of = base.error_code_of
with_server = base.with_server


@with_server()
def lists_principals_and_roles_without_hashes(srv):
    answer, _ = expect(srv, 200, "GET", "principals")
    check_eq(answer.get("ok"), True, "ok")
    check_eq(answer["principals"],
             [{"name": "admin", "roles": ["ADMIN"]},
              {"name": "device", "roles": ["DEVICE"]},
              {"name": "viewer", "roles": ["VIEWER"]}], "principals")
    text = json.dumps(answer)
    for user in base.PASSWORDS:
        check(base.hash_of(user) not in text, "no hash of %s" % user)
        check(base.PASSWORDS[user] not in text, "no password of %s" % user)
    answer, _ = expect(srv, 200, "GET", "roles")
    roles = {r["name"]: r for r in answer["roles"]}
    check_eq(sorted(roles), ["ADMIN", "DEVICE", "VIEWER"], "role names")
    check_eq(roles["VIEWER"]["global"], ["VIEW_SESSION"], "VIEWER global")
    check_eq(roles["VIEWER"]["paths"], {"data": ["SELECT_TOPIC", "READ_TOPIC"]},
             "VIEWER paths")
    check_eq(roles["DEVICE"]["global"], [], "DEVICE global")
    check_eq(roles["ADMIN"]["default_path"],
             ["SELECT_TOPIC", "READ_TOPIC", "UPDATE_TOPIC", "MODIFY_TOPIC",
              "SEND_TO_MESSAGE_HANDLER", "SEND_TO_SESSION"], "ADMIN default_path")
    check_eq(roles["ADMIN"]["includes"], [], "ADMIN includes")


@with_server()
def listing_needs_view_security_and_changes_modify_security(srv):
    for path in ("principals", "roles"):
        answer, _ = expect(srv, 403, "GET", path, user="viewer")
        check_eq(error_code_of(answer), "PERMISSION_DENIED", "GET %s code" % path)
    answer, _ = expect(srv, 403, "POST", "principals", user="viewer",
                       body={"name": "x", "password": "x-Pw-123", "roles": []})
    check_eq(error_code_of(answer), "PERMISSION_DENIED", "POST code")
    answer, _ = expect(srv, 403, "DELETE", "principals/device", user="device")
    check_eq(error_code_of(answer), "PERMISSION_DENIED", "DELETE code")
    answer, _ = expect(srv, 403, "PUT", "roles/NEW", user="viewer",
                       body={"global": []})
    check_eq(error_code_of(answer), "PERMISSION_DENIED", "PUT role code")
    answer, _ = expect(srv, 405, "PATCH", "roles/ADMIN", body={})
    check_eq(error_code_of(answer), "METHOD_NOT_ALLOWED", "PATCH code")


@with_server(store=False)
def without_a_store_lists_are_empty_and_changes_refused(srv):
    answer, _ = expect(srv, 200, "GET", "principals", user=None)
    check_eq(answer, {"ok": True, "principals": []}, "principals")
    answer, _ = expect(srv, 200, "GET", "roles", user=None)
    check_eq(answer, {"ok": True, "roles": []}, "roles")
    answer, _ = expect(srv, 409, "POST", "principals", user=None,
                       body={"name": "x", "password": "x-Pw-123", "roles": []})
    check_eq(error_code_of(answer), "NO_STORE", "POST code")
    answer, _ = expect(srv, 409, "DELETE", "roles/ADMIN", user=None)
    check_eq(error_code_of(answer), "NO_STORE", "DELETE code")


if __name__ == "__main__":
    run_cases()
