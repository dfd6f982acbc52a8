"""boto3 sessions for short-lived task processes, through the provider's session factory seam.

A new boto3 session parses botocore's data again (``endpoints.json`` alone is over a
megabyte) and registers botocore's few hundred built-in event handlers again
(docs/performance.md has what each costs). A mapped task is a new process that makes its
sessions once, so both costs are paid per task. ``SharedBotocoreSessionFactory`` builds its
sessions from parts made once per process:

- ``SHARED_BOTOCORE_DATA``: one botocore data loader, which ``license_manager.preload`` can fill
  before task processes are forked (the provider shares a loader the same way for its async
  sessions);
- ``BOTOCORE_BUILTIN_HANDLERS``: the handlers registered once, copied into each new session,
  as botocore's own clients copy their session's handlers.

Every AWS hook of a deployment uses it with the provider's documented option::

    [aws]
    session_factory = license_manager.sessions.SharedBotocoreSessionFactory

(``deploy/airflow.env`` sets it). Where that option is not set, this package's hooks use it
anyway (``session_factory``); a factory of the user's own always wins. This module imports
nothing of Airflow but the provider's ``base_aws``: the provider imports it while importing
``base_aws`` itself.
"""

from __future__ import annotations

import copy
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import botocore.session
from airflow.providers.amazon.aws.hooks import base_aws
from airflow.providers.amazon.aws.hooks.base_aws import BaseSessionFactory
from botocore.hooks import HierarchicalEmitter
from botocore.loaders import Loader

from license_manager import provider_compat

if TYPE_CHECKING:
    from aiobotocore.session import AioSession

PRELOADED_SERVICES = ("license-manager", "s3")


class FixedSearchPathLoader(Loader):
    """A botocore ``Loader`` whose search paths cannot grow.

    boto3 appends its own data folder to the loader of every session it wraps; on a loader
    shared by every session of a process that list would grow by one entry per session. This
    loader starts with boto3's folder and hands out copies of its list.
    """

    @property
    def search_paths(self) -> list[str]:
        return list(self._search_paths)


def _botocore_parts() -> tuple[HierarchicalEmitter, FixedSearchPathLoader]:
    """The built-in handlers and the data search paths of a new default boto3 session."""
    emitter = HierarchicalEmitter()
    template = botocore.session.Session(event_hooks=emitter)  # registers the built-in handlers
    boto3_data = str(Path(boto3.__file__).parent / "data")  # what boto3 adds to a session's
    search_paths = [*template.get_component("data_loader").search_paths, boto3_data]
    return emitter, FixedSearchPathLoader(search_paths, include_default_search_paths=False)


BOTOCORE_BUILTIN_HANDLERS, SHARED_BOTOCORE_DATA = _botocore_parts()


def new_botocore_session() -> botocore.session.Session:
    """A botocore session equal to a new default one, made from this process's shared parts."""
    session = botocore.session.Session(
        event_hooks=copy.copy(BOTOCORE_BUILTIN_HANDLERS), include_builtin_handlers=False
    )
    session.register_component("data_loader", SHARED_BOTOCORE_DATA)
    return session


def load_botocore_data(services: tuple[str, ...] = PRELOADED_SERVICES) -> None:
    """Parse botocore's endpoint data and the models of ``services`` into the shared loader.

    Creating a client loads what a real one needs, the paginators aside; the dummy credentials
    keep botocore from looking for real ones, and nothing is sent.
    """
    session = new_botocore_session()
    for service in services:
        session.create_client(
            service,
            region_name="us-east-1",
            aws_access_key_id="preload",
            aws_secret_access_key="preload",  # noqa: S106 - not a secret, no call is made
        )
        SHARED_BOTOCORE_DATA.load_service_model(service, "paginators-1")


class SharedBotocoreSessionFactory(BaseSessionFactory):
    """The provider's session factory, with sessions made from this process's shared parts.

    Credentials, Region, profile and role assumption are the provider's. Sessions without a
    connection or with the connection's own credentials are made by ``basic_session``; a
    session that assumes the connection's ``role_arn`` is made by the provider (which asks STS
    through ``basic_session``) and then given the shared data (``provider_compat``).
    Async (deferrable) sessions are the provider's, which already share a loader.
    """

    @cached_property
    def basic_session(self) -> boto3.session.Session:
        return boto3.session.Session(
            botocore_session=new_botocore_session(), **self.conn.session_kwargs
        )

    def create_session(self, deferrable: bool = False) -> boto3.session.Session | AioSession:
        if deferrable:
            return super().create_session(deferrable=True)
        if not self.conn:
            self.log.debug(  # the provider has already warned that the connection is missing
                "No AWS connection: boto3's own credential chain is used (region_name=%r).",
                self.region_name,
            )
            return self.basic_session  # no connection: only the Region in session_kwargs
        if not self.role_arn:
            return self.basic_session
        return provider_compat.share_botocore_data(super().create_session(), SHARED_BOTOCORE_DATA)


def session_factory() -> type[BaseSessionFactory]:
    """The factory of this package's hooks: ``[aws] session_factory``'s, else ours."""
    if base_aws.SessionFactory is BaseSessionFactory:
        return SharedBotocoreSessionFactory
    return base_aws.SessionFactory
