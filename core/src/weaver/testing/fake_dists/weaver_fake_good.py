"""The fake distribution ``weaver-fake-good``: a well-behaved extension for tests.

It declares a role, a config table with a secret in it and a CLI command, so tests can
watch one extension flow through the real entry-point loader into every part of Weaver.
"""

import attrs
import typer

import weaver
from weaver.errors import RoundStopped
from weaver.model import USER
from weaver.specs import ConfigTable, RoleSpec


@attrs.frozen
class FakeGoodConfig:
    """``[fake_good]``: what the greeter says, and a secret ``weaver config show`` must mask."""

    greeting: str = "hello"
    api_token: str = ""


class Greeter:
    """Answers the user with the configured greeting; the request ``fail`` fails the round."""

    async def reply(self, ctx):
        if ctx.post.message == "fail":
            raise RoundStopped("the greeter was asked to fail")
        post = ctx.new_post(send_to=USER)
        post.message_delta(f"{ctx.config.table('fake_good').greeting}, {ctx.post.message}")
        return post.build()


@weaver.hookimpl
def weaver_roles():
    return [
        RoleSpec(name="greeter", alias="Greeter", factory=Greeter, description="Greets whoever writes.", calls_llm=False)
    ]


@weaver.hookimpl
def weaver_config_tables():
    return [ConfigTable("fake_good", FakeGoodConfig, "Settings of the fake good extension")]


@weaver.hookimpl
def weaver_cli(app):
    @app.command("fake-greet")
    def fake_greet(ctx: typer.Context, name: str = "world"):
        """Print the configured greeting (a command added by weaver-fake-good)."""
        from weaver.cli import CliState

        config = CliState.of(ctx).app().config
        typer.echo(f"{config.table('fake_good').greeting}, {name}")
