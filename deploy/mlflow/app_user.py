"""The one-shot `mlflow-users` service of the compose profile mlops: the app's own MLflow account, not the admin.

Logged in as the admin (MLFLOW_TRACKING_USERNAME/PASSWORD of this process), it creates the account APP_USERNAME with
APP_PASSWORD, or sets that password when the account exists, so the password in .env stays the one that works (change
it there and run `docker compose up mlflow-users` again). The app's account is an ordinary one: it owns (MANAGE) the
experiments and prompts it creates and reads the rest. Exits 1 with a message, never a stack trace or a password.
"""

from __future__ import annotations

import os
import sys

from mlflow.exceptions import MlflowException, RestException
from mlflow.server.auth.client import AuthServiceClient


def main() -> int:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    username = os.environ.get("APP_USERNAME", "")
    password = os.environ.get("APP_PASSWORD", "")
    if not username or len(password) < 12:
        print(
            "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (12+ characters) in .env: the app's own MLflow "
            "account",
            file=sys.stderr,
        )
        return 1
    if username == os.environ.get("MLFLOW_TRACKING_USERNAME"):
        print("MLFLOW_TRACKING_USERNAME must name the app's own account, not the MLflow admin", file=sys.stderr)
        return 1
    client = AuthServiceClient(uri)
    try:
        try:
            client.get_user(username)
        except RestException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            client.create_user(username, password)
            print(f"created the MLflow account {username}", file=sys.stderr)
        else:
            client.update_user_password(username, password)
            print(f"the MLflow account {username} exists; its password is the one of .env", file=sys.stderr)
    except MlflowException as error:
        print(
            f"could not set up the MLflow account {username} at {uri}: {error.message}\n"
            "If the admin login failed: MLFLOW_ADMIN_PASSWORD is read only when MLflow first creates its admin, so it "
            "must still be that first password (see docs/operations.md, MLflow passwords).",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
