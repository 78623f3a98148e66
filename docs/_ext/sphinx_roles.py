"""A griffe extension for the API pages: reads the project's docstrings as they are written.

The docstrings use Google-style sections and Sphinx roles (``:func:`x```, ``:mod:`.x```).
Before griffe parses them, this extension

- turns a lone ``Example:`` line into ``Examples:``, so that doctest lines render as code;
- turns each Sphinx role into a code span that links to the object's API entry when the
  site has one (an optional cross-reference: no warning when it has none). Relative
  targets (``.label``) and bare names are resolved against the module they are written in.

Only the rendered pages change; the source files are not touched.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:mod|func|class|data|attr|meth|exc|obj):`(~?)([^`]+)`")
_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


def _package_path(module) -> str:
    return module.path if module.is_init_module else module.parent.path


def _member_path(scope, head: str, target: str) -> str:
    member = scope.members[head]
    path = member.target_path if member.is_alias else member.path
    return path + target[len(head) :]


def _resolve(obj, target: str) -> str:
    module = obj.module
    if target.startswith("."):
        rest = target.lstrip(".")
        base = _package_path(module)
        for _ in range(len(target) - len(rest) - 1):
            base = base.rpartition(".")[0]
        return f"{base}.{rest}" if rest else base
    head = target.split(".", 1)[0]
    if head in ("painnjax", "md"):
        return target
    for scope in (obj, obj.parent, module):
        if scope is not None and (scope.is_class or scope.is_module) and head in scope.members:
            return _member_path(scope, head, target)
    return target


def _fix(obj, text: str) -> str:
    text = _EXAMPLE.sub(r"\1Examples:", text)

    def role(match: re.Match) -> str:
        tilde, target = match.groups()
        target = target.strip().removesuffix("()")
        title = target.rsplit(".", 1)[-1] if tilde else target
        identifier = _resolve(obj, target)
        return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'

    return _ROLE.sub(role, text)


class SphinxRoles(griffe.Extension):
    """Rewrite each docstring of a loaded package (see the module docstring)."""

    def on_package(self, *, pkg, **kwargs) -> None:
        self._walk(pkg)

    def _walk(self, obj) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _fix(obj, obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member)
