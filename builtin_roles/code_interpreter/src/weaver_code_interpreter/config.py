"""``[code_interpreter]``: the CodeInterpreter's model, retries, mode and prompt additions."""

from __future__ import annotations

import attrs

from weaver.config import at_least


@attrs.frozen
class CodeInterpreterConfig:
    """``[code_interpreter]``.

    .. code-block:: toml

        [code_interpreter]
        llm = "coder"        # a model alias from [llm.models]; unset: the default model
        max_retries = 3      # corrections after the first attempt, per step
        plugin_only = false  # true: generated code may only call the enabled plugins
        example_dirs = ["my_examples"]  # more example folders, relative to the project
    """

    llm: str | None = None
    """The model alias the CodeInterpreter calls; ``None`` uses ``[llm]`` itself."""
    max_retries: int = attrs.field(default=3, validator=at_least(0))
    """Corrections per step after the first attempt: a format error, a verification error or
    an execution error goes back to the model with precise feedback, at most this many times
    (so at most ``max_retries + 1`` attempts); then the Planner gets the last error. The count
    starts again with every request from the Planner."""
    plugin_only: bool = False
    """Plugin-only mode: code may only call the enabled plugins with literal arguments and
    bind their results to names (checked by the verifiers in ``VerifyMode.plugin_only``)."""
    max_variables: int = attrs.field(default=30, validator=at_least(0))
    """How many of the kernel's variables the prompt lists (the latest used and newest first)."""
    variables_max_tokens: int = attrs.field(default=300, validator=at_least(0))
    """The most tokens the variable list takes; the rest are counted (0: no limit)."""
    history_max_tokens: int = attrs.field(default=8000, validator=at_least(1))
    """The token budget for earlier rounds in the prompt, handed to memory compressors."""
    extra_instructions: str = ""
    """Text appended to the instructions (house rules, domain hints)."""
    use_examples: bool = True
    """Put few-shot example conversations (TaskWeaver's ``code_generator_examples``) in the prompt."""
    example_dirs: tuple[str, ...] = ()
    """Folders of example YAML files besides ``code_generator_examples/`` (and
    ``codeinterpreter_examples/``) in the project and in its ``examples/`` folder; relative
    paths are relative to the project directory."""
