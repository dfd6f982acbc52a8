"""Every place where this package reaches into private parts of the amazon provider or boto3.

Each override below exists because no public seam offers the same, says what it saves, and
is switched off, with all the others, by

    [license_manager]
    provider_overrides = False      (environment: AIRFLOW__LICENSE_MANAGER__PROVIDER_OVERRIDES)

after which the package behaves at these points exactly as the provider does. Everything else
the package changes goes through public seams: the ``[aws] session_factory`` class
(``license_manager.sessions``), the connection's ``config_kwargs``, ``get_connection``.
tests/test_provider_compat.py fails when an upgrade of the provider or boto3 removes or
bypasses one of these overrides. Figures: CPU time (``time.process_time``) on the project's
2-core machine with the override on and off, medians of 5 alternating rounds, the data of
``license_manager.preload`` loaded.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType

    import boto3
    from botocore.loaders import Loader

SECTION, OPTION = "license_manager", "provider_overrides"


def overrides_enabled() -> bool:
    """``[license_manager] provider_overrides``, on unless set to False."""
    from airflow.configuration import conf

    return conf.getboolean(SECTION, OPTION, fallback=True)


class CallerFromFrames:
    """Overrides ``AwsGenericHook._get_caller`` (private; called once per client).

    The provider names the operator that created a client in its user agent
    (``Caller/<class>``), found with ``inspect.stack()``, which reads the source lines of every
    frame and scans ``sys.modules`` for each. Walking the frames finds the same name: the
    class of ``self`` in the innermost ``execute`` frame (the provider's fallbacks, sensors'
    ``poke`` and executors, do not apply to this package's hooks). docs/performance.md has
    what it saves a task process.
    """

    def _get_caller(self, target_function_name: str = "execute") -> str:
        if not overrides_enabled():
            return super()._get_caller(target_function_name)  # type: ignore[misc]
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == target_function_name and "self" in frame.f_locals:
                return type(frame.f_locals["self"]).__name__
            frame = frame.f_back
        return "Unknown"


def share_botocore_data(session: boto3.session.Session, loader: Loader) -> boto3.session.Session:
    """Give a boto3 session made by the provider the process's shared botocore data loader.

    Reaches boto3's private ``Session._session``: boto3 has no public accessor for the botocore
    session it wraps. Used for sessions that assume the connection's ``role_arn``, which the
    provider builds on a new botocore session of its own (``_create_session_with_assume_role``),
    with no seam to pass one in; without it, botocore's endpoint data and models are parsed
    again for each such session (docs/performance.md has the figures).
    """
    if overrides_enabled():
        session._session.register_component("data_loader", loader)
    return session
