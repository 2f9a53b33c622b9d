"""Voice prompts: texts in ``recordings/prompts.yaml``, placeholder audio, studio overrides."""

from ivr.prompts.library import PromptLibrary, transition_prompt_id
from ivr.prompts.render import PromptSpec, all_prompts
from ivr.prompts.schema import PromptsFile, load_prompts

__all__ = [
    "PromptLibrary",
    "PromptSpec",
    "PromptsFile",
    "all_prompts",
    "load_prompts",
    "transition_prompt_id",
]
