"""A client of a Weaver service (``weaver serve``, from the ``weaver-server`` extension), on httpx2.

:class:`Client` is used as an :class:`weaver.App` is: ``client.session()``,
``client.resume(id)``, ``client.subscribe(callback)``; a :class:`RemoteSession` as a
:class:`weaver.Session` is: ``send_message`` returns the finished :class:`weaver.model.Round`
(the events of the round reach the subscribers as they happen), ``cancel``,
``pending_approvals`` and ``answer`` work from any thread. That is what lets ``weaver run
--server URL`` and ``weaver chat --server URL`` behave as they do locally::

    from weaver.client import Client

    with Client("http://127.0.0.1:8765", token="...") as client:  # or WEAVER_TOKEN
        session = client.session()
        round = session.send_message("total revenue by region", files=["data/sales.csv"])
        print(round.state, round.answer)
        notebook = session.export("ipynb")

Errors are :class:`weaver.errors.WeaverError`\\ s: a session that does not exist is a
:class:`~weaver.errors.SessionNotFoundError`, a refused token or a service that cannot be
reached a :class:`~weaver.errors.ConfigError`, anything else the service refuses a
:class:`ServiceError` carrying its HTTP status.
"""

from weaver.client.api import Client, ServiceError
from weaver.client.session import RemoteSession

__all__ = ["Client", "RemoteSession", "ServiceError"]
