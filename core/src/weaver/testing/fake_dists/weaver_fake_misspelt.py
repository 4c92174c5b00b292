"""The fake distribution ``weaver-fake-misspelt``: it implements a hook no spec has."""

import weaver


@weaver.hookimpl
def weaver_role():  # the hook is weaver_roles: the loader must refuse this extension
    return []
