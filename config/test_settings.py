"""Settings for the test suite: the product's settings with a fast password hasher."""

import os

from config.settings import *  # noqa: F403
from config.settings import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A test database per run, so that several runs on one machine do not collide.
DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get(
    "TEST_DATABASE_NAME", f"test_manage_center_{os.getpid()}"
)
