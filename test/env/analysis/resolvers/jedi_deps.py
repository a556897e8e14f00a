"""An independent dep_search resolver on Jedi (goto on each callee), for agreement.test.ts.

Same input and output as ast_deps.py; jedi must be importable (PYTHONPATH).
"""
import ast
import json
import os
import sys

import jedi

ROOT = sys.argv[1]
REQUEST = json.load(sys.stdin)
PROJECT = jedi.Project(ROOT, added_sys_path=[os.path.join(ROOT, p) for p in REQUEST["paths"]])
DEFS = {}  # (file, line of the def) -> qualname
NODES = {}  # file:qualname -> node
for dirpath, _, files in os.walk(ROOT):
    for f in files:
        if f.endswith(".py"):
            file = os.path.relpath(os.path.join(dirpath, f), ROOT)
            stack = [(n, "") for n in ast.parse(open(os.path.join(ROOT, file)).read()).body]
            while stack:
                node, prefix = stack.pop()
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    DEFS[(file, node.lineno)] = prefix + node.name
                    NODES[f"{file}:{prefix}{node.name}"] = node
                    stack.extend((n, f"{prefix}{node.name}.") for n in node.body)


def dependencies(target):
    file = target.split(":")[0]
    script = jedi.Script(path=os.path.join(ROOT, file), project=PROJECT)
    out = set()
    for stmt in NODES[target].body:
        for call in ast.walk(stmt):
            if not isinstance(call, ast.Call):
                continue
            f = call.func
            if isinstance(f, ast.Name):
                line, column = f.lineno, f.col_offset
            elif isinstance(f, ast.Attribute):
                line, column = f.end_lineno, f.end_col_offset - len(f.attr)
            else:
                continue
            for name in script.goto(line, column, follow_imports=True):
                path = str(name.module_path or "")
                if not path.startswith(ROOT + os.sep) or name.type not in ("function", "class"):
                    continue
                qual = DEFS.get((os.path.relpath(path, ROOT), name.line))
                key = f"{os.path.relpath(path, ROOT)}:{qual}"
                if qual and key != target and not key.startswith(target + "."):
                    out.add(key)
    return sorted(out)


print(json.dumps({t: dependencies(t) for t in REQUEST["targets"]}))
