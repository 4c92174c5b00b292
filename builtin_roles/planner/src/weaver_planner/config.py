"""``[planner]``: the Planner's model, limits, examples and prompt additions."""

from __future__ import annotations

import attrs

from weaver.config import at_least


@attrs.frozen
class PlannerConfig:
    """``[planner]``.

    .. code-block:: toml

        [planner]
        llm = "smart"                  # a model alias from [llm.models]; unset: the default model
        max_self_corrections = 3       # invalid replies sent back to the model per turn
        max_steps = 15                 # Planner turns per round
        example_dirs = ["my_examples"] # more example folders, relative to the project
    """

    llm: str | None = None
    """The model alias the Planner calls; ``None`` uses ``[llm]`` itself."""
    max_self_corrections: int = attrs.field(default=3, validator=at_least(0))
    """How many times an invalid reply goes back to the model, counted per round and reset by
    a valid reply; one more invalid reply fails the round."""
    max_steps: int = attrs.field(default=15, validator=at_least(1))
    """Planner turns per round; when they are used up the round stops with the progress so far."""
    use_examples: bool = True
    """Put few-shot example conversations in the prompt."""
    builtin_examples: bool = True
    """Include the examples shipped with the Planner (project examples are always included)."""
    example_dirs: tuple[str, ...] = ()
    """Folders of example YAML files besides ``planner_examples/`` in the project and in its
    ``examples/`` folder; relative paths are relative to the project directory."""
    extra_instructions: str = ""
    """Text appended to the Planner's instructions (house rules, domain hints)."""
    history_max_tokens: int = attrs.field(default=8000, validator=at_least(1))
    """The token budget for earlier rounds in the prompt, handed to memory compressors."""
