"""The fake distribution ``weaver-fake-broken``: its import fails, as when a dependency is missing."""

import weaver_fake_missing_dependency  # noqa: F401 - installed nowhere, on purpose
