"""Schemathesis hooks for the contract run: the secrets a request needs to get past
its first check, which generated data cannot guess. A known password where an
operation asks for the signed-in account's, a recovery code of the pending login's
account for /2fa/verify (the TOTP step of now was spent by the enrolment), and
account ids that exist for the admin routes, in turn. Everything else stays
generated. The run sets the values in the environment (tests/contract/run.sh)."""

import itertools
import os

import schemathesis

PASSWORD_FIELDS = {
    "/api/auth/2fa/setup": "password",
    "/api/auth/email": "password",
    "/api/auth/reauthenticate": "password",
    "/api/auth/password": "current_password",
}


def path_of(context) -> str:
    return context.operation.path if context.operation is not None else ""


@schemathesis.hook
def map_body(context, body):
    if not isinstance(body, dict):
        return body
    path = path_of(context)
    field = PASSWORD_FIELDS.get(path)
    if field and field in body:
        body[field] = os.environ["CONTRACT_PASSWORD"]
    if path == "/api/auth/2fa/verify" and "code" in body:
        body["code"] = os.environ["CONTRACT_RECOVERY_CODE"]
    return body


MEMBER_IDS = itertools.cycle(os.environ.get("CONTRACT_MEMBER_IDS", "0").split())


@schemathesis.hook
def map_path_parameters(context, parameters):
    if parameters and "id" in parameters and path_of(context).startswith("/api/admin/accounts/"):
        parameters["id"] = next(MEMBER_IDS)
    return parameters
