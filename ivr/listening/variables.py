"""What a classification tells the dialplan, the ACD and the agent's screen (pure)."""

from __future__ import annotations

import re

from ivr.speech.pipeline import PipelineResult

TRANSCRIPT_MAX = 200  # characters of the transcript carried on the channel

_UNSAFE = re.compile(r"[\r\n,|\"\\]")


def screen_pop(result: PipelineResult) -> dict[str, str]:
    """Inheritable channel variables (``__`` prefix: the agent's channel gets them too)."""
    heard = result.classification
    transcript = _UNSAFE.sub(" ", result.transcript or "")[:TRANSCRIPT_MAX]
    return {
        "__HOTLINE_TOPIC": heard.domain,
        "__HOTLINE_REQUEST_TYPE": heard.request_type.value,
        "__HOTLINE_URGENCY": heard.urgency.value,
        "__HOTLINE_CONFIDENCE": f"{heard.confidence:.2f}",
        "__HOTLINE_OUT_OF_SCOPE": heard.out_of_scope.value if heard.out_of_scope else "",
        "__HOTLINE_SPEECH_OUTCOME": result.outcome.value,
        "__HOTLINE_TRANSCRIPT": transcript,
    }
