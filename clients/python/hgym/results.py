"""What reset and step answer, and actions in the shapes the server and models use."""

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Mapping, Union

JSON = Dict[str, Any]
# An action: {"tool": name, "arguments": {...}} or {"message": text}. A plain string is
# taken as {"message": text}.
Action = Union[Mapping[str, Any], str]


@dataclass(frozen=True)
class ResetResult:
    """A new episode: its id, the task's instruction, and ``info`` (``task``, ``instance_id``,
    ``max_steps``, ``tools``, ``workspace``)."""

    episode_id: str
    observation: str
    info: JSON = field(default_factory=dict)

    @staticmethod
    def from_json(body: Mapping[str, Any]) -> "ResetResult":
        return ResetResult(episode_id=str(body["episode_id"]), observation=_text(body.get("observation")), info=dict(body.get("info") or {}))


@dataclass(frozen=True)
class StepResult:
    """One step's answer. Unpacks as Gymnasium's five values:
    ``observation, reward, terminated, truncated, info = client.step(...)``.
    ``reward`` is 0 until the episode ends; at the end ``info["grade"]`` holds the breakdown."""

    observation: str
    reward: float
    terminated: bool
    truncated: bool
    info: JSON = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated

    def __iter__(self) -> Iterator[Any]:
        return iter((self.observation, self.reward, self.terminated, self.truncated, self.info))

    @staticmethod
    def from_json(body: Mapping[str, Any]) -> "StepResult":
        return StepResult(
            observation=_text(body.get("observation")),
            reward=float(body.get("reward", 0)),
            terminated=bool(body.get("terminated")),
            truncated=bool(body.get("truncated")),
            info=dict(body.get("info") or {}),
        )


@dataclass(frozen=True)
class OutputChunk:
    """A piece of a running command's output, streamed over the WebSocket before the step's
    result (which holds the whole output again, capped)."""

    episode_id: str
    stream: str  # "stdout" or "stderr"
    data: str


def _text(observation: Any) -> str:
    if isinstance(observation, Mapping):
        return str(observation.get("text", ""))
    return "" if observation is None else str(observation)


def normalize_action(action: Action) -> JSON:
    """The action as the server takes it. A string becomes ``{"message": ...}``; a dict is
    sent as given (the server answers a tool it does not know, or bad arguments, with an
    observation; a dict of neither shape is a BadRequest)."""
    if isinstance(action, str):
        return {"message": action}
    if isinstance(action, Mapping):
        return dict(action)
    raise TypeError(f"an action is a dict or a str, not {type(action).__name__}")


def action_from_tool_call(tool_call: Mapping[str, Any]) -> JSON:
    """An OpenAI-style tool call (``{"id", "type": "function", "function": {"name",
    "arguments": "<json>"}}``) as an hgym action. Raises ValueError when the arguments are
    not a JSON object, which the server could not take as an action at all."""
    function = tool_call.get("function") or {}
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("the tool call has no function name")
    raw = function.get("arguments")
    if raw is None or raw == "":
        arguments: Any = {}
    elif isinstance(raw, Mapping):
        arguments = dict(raw)
    else:
        try:
            arguments = json.loads(raw)
        except (TypeError, ValueError) as err:
            raise ValueError(f"the arguments of {name} are not valid JSON: {err}") from None
    if not isinstance(arguments, dict):
        raise ValueError(f"the arguments of {name} are not a JSON object")
    return {"tool": name, "arguments": arguments}
