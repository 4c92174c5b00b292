"""``weaver-translator``: a template for a third-party Weaver extension.

It adds a role and a guard, each a few lines:

- the ``Translator`` role (config name ``translator``) asks the model to translate what it
  is sent into ``[translator] language`` and answers the sender;
- a guard that stops code deleting files before it reaches the kernel.

Enable the role in a project with ``[session] roles = ["planner", "code_interpreter",
"translator"]``; the guard is active as soon as the extension is installed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import attrs

import weaver
from weaver.specs import ConfigTable, RoleSpec, Verdict

if TYPE_CHECKING:  # types only: `weaver --help` imports this module, so it stays light
    from weaver.guards import GuardContext
    from weaver.model import Post
    from weaver.roles import RoleContext

DELETING = re.compile(r"(?:\bos\.(?:remove|unlink|rmdir)|\bshutil\.rmtree|\.unlink)\s*\(")


@attrs.frozen
class TranslatorConfig:
    """``[translator]``: the language the Translator writes."""

    language: str = "French"


class Translator:
    """Translates the incoming message and sends the translation back to its sender."""

    async def reply(self, ctx: RoleContext) -> Post:
        language = ctx.config.table("translator").language
        ctx.status("calling the model")
        response = await ctx.llm.chat(
            [
                {"role": "system", "content": f"Translate the user's text into {language}. Reply with the translation only."},
                {"role": "user", "content": ctx.post.message},
            ]
        )
        post = ctx.new_post(send_to=ctx.post.send_from)
        post.set_message(response.text.strip())
        return post.build()


@weaver.hookimpl
def weaver_roles() -> list[RoleSpec]:
    return [RoleSpec("translator", "Translator", Translator, "Translates text into the configured language.")]


@weaver.hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable("translator", TranslatorConfig, "The Translator role's language")]


@weaver.hookimpl
def weaver_before_execute(code: str, ctx: GuardContext) -> Verdict | None:
    if DELETING.search(code):
        return Verdict.stop("this project does not allow code that deletes files", source="translator.no_delete")
    return None
