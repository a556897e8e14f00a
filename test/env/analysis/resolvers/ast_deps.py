"""An independent dep_search resolver on Python's ast, for test/env/analysis/agreement.test.ts.

Reads {"paths": [dirs on sys.path, from ROOT], "targets": ["file:qualname", ...]} on stdin and
prints, for each target, the repository definitions its body calls: "file:qualname" of
functions, methods and classes, through imports, self./cls./super() and module attributes.
"""
import ast
import json
import os
import sys

ROOT = sys.argv[1]
REQUEST = json.load(sys.stdin)
MODULES = {}  # dotted name -> (file, tree, is_package)
for path in REQUEST["paths"]:
    for dirpath, _, files in os.walk(os.path.join(ROOT, path)):
        for f in sorted(files):
            if f.endswith(".py"):
                full = os.path.join(dirpath, f)
                parts = os.path.relpath(full, os.path.join(ROOT, path))[:-3].split(os.sep)
                package = parts[-1] == "__init__"
                name = ".".join(parts[:-1] if package else parts)
                if name not in MODULES:
                    MODULES[name] = (os.path.relpath(full, ROOT), ast.parse(open(full).read()), package)
DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def statements(body):
    """Statements of a body, looking into if/try blocks but not into definitions."""
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                yield from statements(getattr(node, field, []))
        elif isinstance(node, ast.ExceptHandler):
            yield from statements(node.body)


def member(mod, name, depth=0):
    if mod not in MODULES or depth > 10:
        return ("mod", f"{mod}.{name}") if f"{mod}.{name}" in MODULES else None
    file, tree, package = MODULES[mod]
    found = None
    for node in statements(tree.body):
        if isinstance(node, DEFS) and node.name == name:
            found = ("def", file, node.name, node, mod)
        elif isinstance(node, ast.ImportFrom):
            base = imported_base(node, mod, package)
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    found = member(base, alias.name, depth + 1) or (("mod", f"{base}.{alias.name}") if f"{base}.{alias.name}" in MODULES else None)
                elif alias.name == "*" and not found and not name.startswith("_"):
                    found = member(base, name, depth + 1)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname == name:
                    found = ("mod", alias.name)
                elif not alias.asname and alias.name.split(".")[0] == name:
                    found = ("mod", name)
    return found or (("mod", f"{mod}.{name}") if f"{mod}.{name}" in MODULES else None)


def imported_base(node, mod, package):
    if not node.level:
        return node.module
    parts = mod.split(".") if package else mod.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def in_class(cls, name, seen=()):
    _, file, qual, node, mod = cls
    for child in node.body:
        if isinstance(child, DEFS) and child.name == name:
            return ("def", file, f"{qual}.{name}", child, mod)
    for base in node.bases:
        b = resolve(base, mod, [])
        if b and b[0] == "def" and isinstance(b[3], ast.ClassDef) and b[2] not in seen:
            found = in_class(b, name, seen + (b[2],))
            if found:
                return found
    return None


def resolve(expr, mod, scopes, cls=None):
    """What an expression names: ("mod", name), ("def", file, qualname, node, module), or None."""
    if isinstance(expr, ast.Name):
        for scope_qual, scope in reversed(scopes):
            for node in statements(scope.body):
                if isinstance(node, DEFS) and node.name == expr.id:
                    return ("def", MODULES[mod][0], f"{scope_qual}.{node.name}", node, mod)
        return member(mod, expr.id)
    if not isinstance(expr, ast.Attribute):
        return None
    value = expr.value
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super" and cls:
        for base in cls[3].bases:
            b = resolve(base, mod, [])
            if b and b[0] == "def" and isinstance(b[3], ast.ClassDef):
                found = in_class(b, expr.attr)
                if found:
                    return found
        return None
    if isinstance(value, ast.Name) and value.id in ("self", "cls") and cls:
        return in_class(cls, expr.attr)
    owner = resolve(value, mod, scopes, cls)
    if owner and owner[0] == "mod":
        return member(owner[1], expr.attr)
    if owner and isinstance(owner[3], ast.ClassDef):
        return in_class(owner, expr.attr)
    return None


def find(target):
    file, qual = target.split(":")
    mod = next(m for m, (f, _, _) in MODULES.items() if f == file)
    node, chain, cls = MODULES[mod][1], [], None
    for i, part in enumerate(qual.split(".")):
        node = next(n for n in statements(node.body) if isinstance(n, DEFS) and n.name == part)
        prefix = ".".join(qual.split(".")[: i + 1])
        if isinstance(node, ast.ClassDef):
            cls = ("def", file, prefix, node, mod)
        else:
            chain.append((prefix, node))
    return mod, node, chain, cls


def dependencies(target):
    mod, node, chain, cls = find(target)
    out = set()
    for stmt in node.body:
        for call in ast.walk(stmt):
            if isinstance(call, ast.Call):
                found = resolve(call.func, mod, chain, cls)
                if found and found[0] == "def":
                    key = f"{found[1]}:{found[2]}"
                    if key != target and not key.startswith(target + "."):
                        out.add(key)
    return sorted(out)


print(json.dumps({t: dependencies(t) for t in REQUEST["targets"]}))
