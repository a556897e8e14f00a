"""What reset and step answer, and actions in the shapes the server and models use."""

import json
from typing import Any, Dict, Mapping, NamedTuple, Union

JSON = Dict[str, Any]
# An action: {"tool": name, "arguments": {...}} or {"message": text}. A plain string is
# taken as {"message": text}.
Action = Union[Mapping[str, Any], str]


class ResetResult(NamedTuple):
    """A new episode: its id, the task's instruction, and ``info`` (``task``, ``instance_id``,
    ``max_steps``, ``tools``, ``workspace``). Unpacks as ``episode_id, observation, info``."""

    episode_id: str
    observation: str
    info: JSON

    @staticmethod
    def from_json(body: Mapping[str, Any]) -> "ResetResult":
        return ResetResult(str(body["episode_id"]), _text(body.get("observation")), _object(body.get("info")))


class StepResult(NamedTuple):
    """One step's answer. Unpacks as Gymnasium's five values, each typed:
    ``observation, reward, terminated, truncated, info = client.step(...)``.
    ``reward`` is 0 until the episode ends; at the end ``info["grade"]`` holds the breakdown."""

    observation: str
    reward: float
    terminated: bool
    truncated: bool
    info: JSON

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated

    @staticmethod
    def from_json(body: Mapping[str, Any]) -> "StepResult":
        return StepResult(
            _text(body.get("observation")),
            float(body.get("reward") or 0),
            body.get("terminated") is True,
            body.get("truncated") is True,
            _object(body.get("info")),
        )


class OutputChunk(NamedTuple):
    """A piece of a running command's output, streamed over the WebSocket before the step's
    result (which holds the whole output again, capped)."""

    episode_id: str
    stream: str  # "stdout" or "stderr"
    data: str


def _text(observation: Any) -> str:
    if isinstance(observation, Mapping):
        return str(observation.get("text", ""))
    return "" if observation is None else str(observation)


def _object(value: Any) -> JSON:
    # The body was parsed for this result alone: its dict is taken as it is, not copied.
    if isinstance(value, dict):
        return value
    return dict(value) if isinstance(value, Mapping) else {}


def normalize_action(action: Action) -> JSON:
    """The action as the server takes it. A string becomes ``{"message": ...}``; a dict is
    sent as given (the server answers a tool it does not know, or bad arguments, with an
    observation; a dict of neither shape is a BadRequest)."""
    if isinstance(action, str):
        return {"message": action}
    if isinstance(action, Mapping):
        return dict(action)
    raise TypeError(f"an action is a dict or a str, not {type(action).__name__}")


def action_from_tool_call(tool_call: Any) -> JSON:
    """A model's tool call as an hgym action ``{"tool": name, "arguments": {...}}``.

    Takes the tool call in any of the shapes models and SDKs hand out:

    - Chat Completions: ``{"id", "type": "function", "function": {"name", "arguments"}}``, as
      a dict or as the openai SDK's ``ChatCompletionMessageToolCall``, or its ``function``
      alone;
    - the Responses API's ``function_call`` item (``ResponseFunctionToolCall``: ``name``,
      ``arguments``, ``call_id``), as a dict or the SDK's object;
    - any object with those attributes (pydantic models, dataclasses), or with a
      ``model_dump()`` giving that dict.

    ``arguments`` may be a JSON string (what models produce) or an object already parsed.
    Raises ValueError, saying what was wrong, when there is no function name, when the
    arguments are not valid JSON or not a JSON object, or when the call is not a function
    call (a custom tool's call, say): the server could not take it as an action."""
    call = _fields(tool_call)
    kind = call.get("type")
    if kind not in (None, "function", "function_call"):
        raise ValueError(f"a {kind!r} tool call is not a function call: hgym's tools are functions")
    function = _fields(call["function"]) if call.get("function") is not None else call
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"the tool call has no function name: {_brief(tool_call)}")
    raw = function.get("arguments")
    if raw is None or raw == "":
        arguments: Any = {}
    elif isinstance(raw, Mapping):
        arguments = dict(raw)
    elif isinstance(raw, (str, bytes, bytearray)):
        try:
            arguments = json.loads(raw)
        except ValueError as err:
            raise ValueError(f"the arguments of {name} are not valid JSON ({err}): {_brief(raw)}") from None
    else:
        raise ValueError(f"the arguments of {name} are a {type(raw).__name__}, not a JSON string or object")
    if not isinstance(arguments, dict):
        raise ValueError(f"the arguments of {name} are not a JSON object but a JSON {type(arguments).__name__}: {_brief(raw)}")
    return {"tool": name, "arguments": arguments}


_TOOL_CALL_FIELDS = ("type", "function", "name", "arguments")


def _fields(value: Any) -> Mapping[str, Any]:
    """A tool call or its function as a mapping: a dict as it is, an object by its
    attributes (pydantic models, dataclasses), else by its ``model_dump()``."""
    if isinstance(value, Mapping):
        return value
    found = {key: getattr(value, key) for key in _TOOL_CALL_FIELDS if getattr(value, key, None) is not None}
    if not found and callable(getattr(value, "model_dump", None)):
        dumped = value.model_dump()
        if isinstance(dumped, Mapping):
            return dumped
    return found


def _brief(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
