"""Renders SFT records with every chat template in a folder (TRL's chat_templates), as TRL would.

    python check_templates.py TEMPLATES_DIR RECORDS.jsonl

Each template is first put through TRL's own test of tool-calling support (trl.chat_template_utils
.supports_tool_calling, repeated here because importing trl needs torch): a conversation of
user, assistant with a tool call, and tool message, whose name, argument key, argument value and
tool content must all show in the rendering. TRL renders a processor's (a vision model's) messages
as content blocks, so a template that fails with strings is tried with blocks too, converted as
trl.data_utils.prepare_multimodal_messages converts them. A template passes TRL's test in one of
these forms, or only with the arguments as a JSON string (TRL's fallback for templates that
concatenate them), or not at all (TRL refuses it for tools).

Each record is then rendered with transformers' own renderer (render_jinja_template, what
apply_chat_template calls) with the record's tools, by every template that supports tool calls
with object arguments, in the form it took, and checked: no exception; every string argument's
value shows and its key never shows double-encoded (`\\"command\\"`); every tool result and
user message shows; the assistant's text shows, unless the template drops text beside a tool
call where it stands (its own design, tested on TRL's conversation). Prints one JSON object.
"""

import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from jinja2 import TemplateError
from transformers.utils.chat_template_utils import render_jinja_template

# What a tokenizer passes to every template beside the messages.
SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}

NAME, KEY, VALUE, CONTENT, TEXT = "tool_name_a8f3e2b1", "tool_arg_key_b9d4f5c2", "tool_arg_val_d6e7a9f3", "tool_content_c4f9a8e2", "assistant_text_e5a1c7d0"

Message = Dict[str, Any]


def render(template: str, messages: List[Message], tools: Optional[List[Any]] = None) -> str:
    rendered, _ = render_jinja_template([messages], tools=tools, chat_template=template, **SPECIAL_TOKENS)
    return str(rendered[0])


def as_blocks(messages: List[Message]) -> List[Message]:
    """String contents as content blocks, as TRL prepares a vision model's messages (no images)."""
    return [{**m, "content": [{"type": "text", "text": m["content"]}]} if isinstance(m.get("content"), str) else m for m in messages]


def probe(arguments: Any, text: str = "") -> List[Message]:
    return [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": text, "tool_calls": [{"type": "function", "function": {"name": NAME, "arguments": arguments}}]},
        {"role": "tool", "name": NAME, "content": CONTENT},
    ]


def shows_all(template: str, messages: List[Message]) -> bool:
    try:
        rendered = render(template, messages)
    except (TemplateError, TypeError):
        return False
    return all(s in rendered for s in (NAME, KEY, VALUE, CONTENT))


def tool_form(template: str) -> Optional[str]:
    """How TRL's supports_tool_calling would take the template: "text", "blocks",
    "string-arguments", or None (no tool calling)."""
    for form, convert in (("text", lambda m: m), ("blocks", as_blocks)):
        if shows_all(template, convert(probe({KEY: VALUE}))):
            return form
    if shows_all(template, probe(json.dumps({KEY: VALUE}))):
        return "string-arguments"
    return None


Position = Tuple[bool, bool]  # (a later tool-call turn, a plain assistant answer follows)


def keeps_text(template: str, convert: Any) -> Dict[Position, bool]:
    """Where the template shows the assistant's text beside a tool call, tested on TRL's
    conversation grown to two tool-call turns, with and without a plain answer after them.
    Templates drop it in places by design: gpt-oss drops the text of tool-call turns once a
    final answer follows; DeepSeek-V3's shows it on the first tool-call turn only."""
    kept = {}
    for final in (False, True):
        second = probe({KEY: VALUE}, TEXT + "_2")[1:]
        later = [{"role": "assistant", "content": "a later answer"}] if final else []
        rendered = render(template, convert(probe({KEY: VALUE}, TEXT + "_1") + second + later))
        kept[(False, final)] = TEXT + "_1" in rendered
        kept[(True, final)] = TEXT + "_2" in rendered
    return kept


def shows(needle: str, rendered: str) -> bool:
    """Whether text shows encoded once: raw, inside JSON, or as a single-quoted literal."""
    forms = (needle, json.dumps(needle)[1:-1], needle.replace("\\", "\\\\").replace("'", "\\'"))
    return any(form in rendered for form in forms)


def arguments_of(call: Message) -> Dict[str, Any]:
    arguments = call["function"]["arguments"]
    # Arguments sent as a JSON string (the former export shape) are checked for what they hold.
    return dict(json.loads(arguments) if isinstance(arguments, str) else arguments)


def check(template: str, record: Dict[str, Any], convert: Any, text_kept: Dict[Position, bool]) -> List[str]:
    try:
        rendered = render(template, convert(record["messages"]), record["tools"])
    except Exception as err:  # any failure to render is what this check reports
        return [f"{type(err).__name__}: {err}"]
    problems = []
    messages = record["messages"]
    call_turns = 0
    for n, message in enumerate(messages):
        role, content = message["role"], message.get("content")
        calls = message.get("tool_calls") or []
        final_follows = any(m["role"] == "assistant" and not m.get("tool_calls") for m in messages[n + 1 :])
        if role in ("user", "tool") or (role == "assistant" and (not calls or text_kept[(call_turns > 0, final_follows)])):
            # The first line is enough to find the message; templates may trim around it.
            first = next((line.strip() for line in str(content or "").splitlines() if line.strip()), "")
            if first and not shows(first, rendered):
                problems.append(f"the {role} message {first[:60]!r} does not show")
        call_turns += 1 if calls else 0
        for call in calls:
            for key, value in arguments_of(call).items():
                if json.dumps(key).replace('"', '\\"') in rendered:
                    problems.append(f"the argument {key!r} of {call['function']['name']} is double-encoded")
                if isinstance(value, str) and value.strip() and not shows(value.strip().splitlines()[0], rendered):
                    problems.append(f"the argument {key!r} of {call['function']['name']} does not show")
    return problems


def main() -> int:
    templates_dir, records_file = Path(sys.argv[1]), Path(sys.argv[2])
    records = [json.loads(line) for line in records_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = []
    for path in sorted(templates_dir.glob("*.jinja")):
        template = path.read_text(encoding="utf-8")
        form = tool_form(template)
        entry: Dict[str, Any] = {"template": path.stem, "form": form}
        if form in ("text", "blocks"):
            convert = as_blocks if form == "blocks" else (lambda m: m)
            kept = keeps_text(template, convert)
            entry["keeps_text_beside_calls"] = {"first_turn": kept[(False, False)], "later_turns": kept[(True, False)], "before_a_final_answer": kept[(False, True)] and kept[(True, True)]}
            entry["problems"] = {
                record.get("episode_id", str(n)): problems for n, record in enumerate(records) if (problems := check(template, record, convert, kept))
            }
        report.append(entry)
    print(json.dumps({"records": len(records), "templates": report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
