"""Personas shared by every app's tests: a manager, a reviewer, an annotator and an outsider."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from dmops.authentication import forget_tokens
from tests.dmops.factories import ProjectFactory, UserFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2's deliberate slowness is for attackers, not for a test suite that logs in a lot.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    # Production serves a hashed manifest built by collectstatic; tests serve the source files.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def no_remembered_tokens():
    # A process remembers API tokens for a few seconds; a test starts as a fresh process would.
    forget_tokens()


@pytest.fixture
def manager(db):
    return UserFactory(username="manager")


@pytest.fixture
def reviewer(db):
    return UserFactory(username="reviewer")


@pytest.fixture
def annotator(db):
    return UserFactory(username="annotator")


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def project(manager, reviewer, annotator):
    return ProjectFactory(manager=manager, reviewers=[reviewer], annotators=[annotator])


@pytest.fixture
def personas(manager, reviewer, annotator, outsider):
    return {"manager": manager, "reviewer": reviewer, "annotator": annotator, "outsider": outsider}


@pytest.fixture
def api():
    return APIClient()


def client_for(client, user):
    client.force_login(user)
    return client
