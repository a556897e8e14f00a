"""hgym.integrations.trl checked the way TRL 1.13 uses an environment, and examples/grpo_trl.py
checked against TRL's source. Prints one JSON object of what it found; the test asserts on it.

    check_trl.py tools URL TEMPLATES_DIR       the tool methods' schemas against GET /v1/tools
    check_trl.py rollout URL GOLD_JSON         episodes played through the class, as TRL plays them
    check_trl.py example EXAMPLE TRL_DIR       the names the example takes from TRL exist there

Needs transformers (get_json_schema, the chat template renderer) but not TRL itself, which
cannot be imported without torch: what TRL does is repeated here from its source
(trl/trainer/grpo_trainer.py), and the example is checked against that source's text.
"""

import ast
import dataclasses
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Set

import hgym
from hgym.integrations.trl import ENDED, HGymTRLEnv
from transformers import TrainingArguments
from transformers.utils import get_json_schema
from transformers.utils.chat_template_utils import render_jinja_template


def tool_methods(env: Any) -> List[Any]:
    """The methods TRL offers the model: GRPOTrainer.__init__ takes every public method of the
    instance but reset and get_reward (inspect.getmembers with inspect.ismethod)."""
    return [m for name, m in inspect.getmembers(env, predicate=inspect.ismethod) if name not in ("reset", "get_reward") and not name.startswith("_")]


def words(text: Any) -> str:
    return " ".join(str(text).split())


def compare(mine: Dict[str, Any], theirs: Dict[str, Any]) -> List[str]:
    """Where a method's schema differs from the server's tool: names, required arguments, each
    argument's type, items, enum and description, and the tool's description."""
    name = theirs["name"]
    problems = []
    if words(mine.get("description")) != words(theirs.get("description")):
        problems.append(f"{name}: description differs")
    ours, server = mine["parameters"], theirs["parameters"]
    if set(ours.get("properties", {})) != set(server.get("properties", {})):
        problems.append(f"{name}: arguments {sorted(ours.get('properties', {}))} != {sorted(server.get('properties', {}))}")
    if sorted(ours.get("required", [])) != sorted(server.get("required", [])):
        problems.append(f"{name}: required {ours.get('required', [])} != {server.get('required', [])}")
    for arg, spec in server.get("properties", {}).items():
        got = ours.get("properties", {}).get(arg, {})
        for key in ("type", "items", "enum"):
            if spec.get(key) != got.get(key):
                problems.append(f"{name}.{arg}: {key} {got.get(key)!r} != {spec.get(key)!r}")
        if words(spec.get("description")) != words(got.get("description")):
            problems.append(f"{name}.{arg}: description differs")
    return problems


def check_tools(url: str, templates: Path) -> Dict[str, Any]:
    env = HGymTRLEnv(base_url=url)
    server = {t["function"]["name"]: t["function"] for t in env.client.tools()}
    schemas = {}
    errors = {}
    for method in tool_methods(env):
        try:
            schemas[method.__name__] = get_json_schema(method)["function"]
        except Exception as err:  # what get_json_schema refuses is the finding
            errors[method.__name__] = f"{type(err).__name__}: {err}"
    problems = [p for name in sorted(set(schemas) & set(server)) for p in compare(schemas[name], server[name])]
    # TRL renders each prompt with the environment's methods as `tools` (_tokenize_prompts).
    template = (templates / "qwen3.jinja").read_text(encoding="utf-8")
    prompt = [{"role": "user", "content": "Fix the bug."}]
    rendered = render_jinja_template([prompt], tools=tool_methods(env), chat_template=template, add_generation_prompt=True)[0][0]
    return {
        "methods": sorted(m.__name__ for m in tool_methods(env)),
        "server_tools": sorted(server),
        "schema_errors": errors,
        "problems": problems,
        "rendered_tool_names": sorted(name for name in server if f'"name": "{name}"' in rendered),
    }


def docstring_literal(text: str, indent: str) -> str:
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = [line if i == 0 or line == "" else indent + line for i, line in enumerate(body.split("\n"))]
    return f'{indent}"""' + "\n".join(lines) + (f"\n{indent}" if len(lines) > 1 else "") + '"""'


LOCATE = """python3 - <<'EOF'
import ast
src = open({path!r}).read()
n = [n for n in ast.walk(ast.parse(src)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.lineno == {line}][0]
print("body", n.body[0].lineno - 1, n.body[0].col_offset)
EOF"""


def solve(env: HGymTRLEnv, gold: Dict[str, Any]) -> List[str]:
    """The gold answer through the tool methods, as the model would call them. Returns what each call answered."""
    answers = [env.think(thought="Find the function, then write its docstring.")]
    for target in gold["targets"]:
        path = f"{gold['workspace']}/{target['file']}"
        located = env.execute_bash(command=LOCATE.format(path=path, line=target["line"]))
        answers.append(located)
        where = re.search(r"^body (\d+) (\d+)$", located, re.M)
        if not where:
            raise AssertionError(f"could not locate {target['qualname']}: {located}")
        new_str = docstring_literal(target["docstring"], " " * int(where.group(2)))
        answers.append(env.str_replace_editor(command="insert", path=path, insert_line=int(where.group(1)), new_str=new_str))
    answers.append(env.finish(message="Wrote the docstring."))
    return answers


def check_rollout(url: str, gold: Dict[str, Any]) -> Dict[str, Any]:
    env = HGymTRLEnv(base_url=url, task="func_localize")
    placeholder = [{"role": "user", "content": ""}]
    # A rollout as GRPOTrainer plays it: reset with the dataset row, tool calls, then the reward.
    instruction = env.reset(prompt=placeholder, instance_id=gold["instance_id"])
    answers = solve(env, gold)
    after_finish = env.think(thought="one more")
    solved = {"episode_id": env.episode_id, "instruction": instruction, "answers": answers, "after_finish": after_finish}
    solved["reward"] = env.get_reward()
    solved["grade"] = env.grade
    solved["status"] = env.client.state(solved["episode_id"])["status"]
    solved["trajectory_tools"] = [s["action"].get("tool") for s in env.client.trajectory(solved["episode_id"])["steps"]]

    # The same instance again (TRL reuses its instances), ended by get_reward without finish.
    row_prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Your task:"}]
    second_instruction = env.reset(prompt=row_prompt, instance_id=gold["instance_id"])
    env.execute_bash(command="true")
    unfinished = {"episode_id": env.episode_id, "instruction": second_instruction, "reward": env.get_reward()}
    unfinished["status"] = env.client.state(unfinished["episode_id"])["status"]

    # A reset while an episode is open closes it.
    env.reset(instance_id=gold["instance_id"])
    abandoned = env.episode_id
    env.reset(instance_id=gold["instance_id"])
    replaced = {"abandoned_status": env.client.state(abandoned)["status"] if abandoned else None}
    env.get_reward()

    # max_steps truncates: the second call ends the episode, a third is not run.
    short = HGymTRLEnv(base_url=url, task="func_localize", max_steps=2)
    short.reset(seed=7)
    truncated = {"first": short.execute_bash(command="echo one"), "second": short.execute_bash(command="echo two")}
    truncated["third"] = short.execute_bash(command="echo three")
    truncated["reward"] = short.get_reward()
    truncated["steps"] = len(short.client.trajectory(str(short.episode_id))["steps"])
    truncated["status"] = short.client.state(str(short.episode_id))["status"]

    try:
        HGymTRLEnv(base_url=url).execute_bash(command="ls")
        before_reset = "no error"
    except hgym.ResetNeeded:
        before_reset = "ResetNeeded"
    return {"solved": solved, "unfinished": unfinished, "replaced": replaced, "truncated": truncated, "before_reset": before_reset, "ended_text": ENDED}


def keywords(tree: ast.AST, callee: str) -> Set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name == callee:
                names.update(k.arg for k in node.keywords if k.arg is not None)
    return names


def parameters_of(source: Path, cls: str, method: str) -> Set[str]:
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method:
                    args = item.args
                    return {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    raise AssertionError(f"{cls}.{method} not found in {source}")


def fields_of(source: Path, cls: str) -> Set[str]:
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return {item.target.id for item in node.body if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)}
    raise AssertionError(f"{cls} not found in {source}")


def check_example(example: Path, trl: Path) -> Dict[str, Any]:
    source = example.read_text(encoding="utf-8")
    compile(source, str(example), "exec")  # byte-compiles, or raises SyntaxError
    tree = ast.parse(source)
    imported = {(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    exported = (trl / "__init__.py").read_text(encoding="utf-8")
    from_trl = sorted(name for module, name in imported if module == "trl")
    trainer_params = parameters_of(trl / "trainer" / "grpo_trainer.py", "GRPOTrainer", "__init__")
    config_fields = fields_of(trl / "trainer" / "grpo_config.py", "GRPOConfig") | fields_of(trl / "trainer" / "base_config.py", "_BaseConfig")
    config_fields |= {f.name for f in dataclasses.fields(TrainingArguments)}
    env_params = set(inspect.signature(HGymTRLEnv).parameters)
    return {
        "from_trl": from_trl,
        "missing_from_trl": [name for name in from_trl if f'"{name}"' not in exported],
        "from_hgym": sorted(name for module, name in imported if module == "hgym.integrations.trl"),
        "trainer_keywords": sorted(keywords(tree, "GRPOTrainer")),
        "unknown_trainer_keywords": sorted(keywords(tree, "GRPOTrainer") - trainer_params),
        "config_keywords": sorted(keywords(tree, "GRPOConfig")),
        "unknown_config_keywords": sorted(keywords(tree, "GRPOConfig") - config_fields),
        "env_keywords": sorted(keywords(tree, "partial") - {"func"}),
        "unknown_env_keywords": sorted(keywords(tree, "partial") - env_params),
    }


def main() -> int:
    command = sys.argv[1]
    if command == "tools":
        result = check_tools(sys.argv[2], Path(sys.argv[3]))
    elif command == "rollout":
        result = check_rollout(sys.argv[2], json.loads(sys.argv[3]))
    elif command == "example":
        result = check_example(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
