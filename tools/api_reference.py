"""Generate docs/api.md, the API reference, from the docstrings and signatures.

    python tools/api_reference.py           # (re)write docs/api.md
    python tools/api_reference.py --check   # exit 1 if docs/api.md is out of date

It documents every name in ``weightnoise.__all__`` (grouped by the module that
defines it), every public name of ``weightnoise.reference`` and
``weightnoise.sklearn`` (which needs scikit-learn). Numpydoc sections become
Markdown lists; signatures show parameter names and defaults (the types are
in the docstrings). tests/test_docs.py fails when the file is out of date.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import inspect
import re
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "api.md"

# Sections of weightnoise in reading order; a module not listed here follows, by name.
MODULE_ORDER = ("model", "derivatives", "penalty", "curvature", "random", "noise", "estimate", "expansion",
                "training", "persistence", "threads", "config", "sweep", "torch_interop")

# Numpydoc sections whose entries are "name : type" lines with indented descriptions.
LIST_SECTIONS = {"Parameters", "Other Parameters", "Returns", "Yields", "Raises", "Warns", "Attributes",
                 "See Also"}

PREAMBLE = """\
# API reference

Generated from the docstrings by `python tools/api_reference.py`; do not edit
by hand (tests/test_docs.py checks that this file is up to date). The
mathematics behind the names is in [mathematics.md](mathematics.md).

Conventions that hold for every function below (see the README):

- `model` is a `weightnoise.MLP`; `X` is `(n_examples, n_in)`, `y` and `u`
  are `(n_examples,)`, `v` is `(n_params,)`; g_n = ∇_θ ŷ(x_n),
  H_n = ∇²_θ ŷ(x_n), r_n = ŷ(x_n) − y_n.
- A model computes in its dtype (float64 or float32); arrays of another
  floating dtype raise `TypeError`, never a silent cast.
- Arguments are validated before any computation: a wrong shape, NaN or Inf,
  an empty array, η < 0, an unknown choice or a model that does not match the
  data raise `ValueError` (or `TypeError` for a wrong type) naming the
  argument. The *Raises* sections list only exceptions beyond these.
- Results are bitwise identical for any number of threads.
"""


@dataclasses.dataclass
class Entry:
    """One documented object: its heading, signature (if callable) and rendered docstring."""

    qualname: str
    obj: Any
    members: list[Entry] = dataclasses.field(default_factory=list)
    note: str = ""
    drop_self: bool = False  # a method read from its class: the signature starts with self


# --- signatures -------------------------------------------------------------------------------------------

class _Shown:
    """A default value that prints as the given text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _default_text(value: Any) -> str:
    if isinstance(value, type):
        module = {"numpy": "np", "builtins": ""}.get(value.__module__, value.__module__)
        return f"{module}.{value.__qualname__}" if module else value.__qualname__
    if callable(value):
        return getattr(value, "__qualname__", repr(value))
    return repr(value)


def signature(obj: Any, *, drop_first: bool = False) -> str | None:
    """``(a, b=1, *, c=None)`` without annotations, or None where there is no signature."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())[1 if drop_first else 0:]
    params = [p.replace(annotation=p.empty,
                        default=p.default if p.default is p.empty else _Shown(_default_text(p.default)))
              for p in params]
    return str(sig.replace(parameters=params, return_annotation=sig.empty))


def wrapped_signature(name: str, sig: str, width: int = 100) -> str:
    line = f"{name}{sig}"
    if len(line) <= width:
        return line
    return textwrap.fill(line, width=width, subsequent_indent=" " * 4, break_long_words=False,
                         break_on_hyphens=False)


# --- docstrings ---------------------------------------------------------------------------------------------

def markdown_inline(text: str) -> str:
    """reST roles and double backticks to Markdown code."""
    text = re.sub(r":(?:func|class|meth|attr|mod|data|obj|exc|ref|py:\w+):`~([^`]+)`",
                  lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
    text = re.sub(r":(?:func|class|meth|attr|mod|data|obj|exc|ref|py:\w+):`([^`]+)`", r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _is_header(lines: list[str], i: int) -> bool:
    if i + 1 >= len(lines):
        return False
    title, rule = lines[i].strip(), lines[i + 1].strip()
    return bool(title) and len(rule) >= 3 and set(rule) == {"-"} and not lines[i].startswith(" ")


def _list_section(body: list[str], *, see_also: bool = False) -> list[str]:
    out: list[str] = []
    for line in body:
        if not line.strip():
            if out and out[-1] != "":
                out.append("")
            continue
        if not line.startswith(" "):
            name, _, description = line.strip().partition(" : ")
            out.append(f"- `{name}`: {markdown_inline(description)}" if see_also and description
                       else f"- `{line.strip()}`")
        elif out:
            dedented = line[4:] if line.startswith("    ") else line.strip()
            out.append(f"  {markdown_inline(dedented)}".rstrip())
    while out and out[-1] == "":
        out.pop()
    # A blank line only separates paragraphs inside one entry; between entries it would loosen the list.
    return [line for k, line in enumerate(out)
            if line or (k + 1 < len(out) and out[k + 1].startswith("  "))]


def _examples_section(body: list[str]) -> list[str]:
    code = textwrap.dedent("\n".join(body)).strip("\n")
    return ["```pycon", code, "```"]


def render_docstring(doc: str) -> str:
    lines = doc.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _is_header(lines, i):
            out.append(markdown_inline(lines[i]).rstrip())
            i += 1
            continue
        title = lines[i].strip()
        i += 2
        body = []
        while i < len(lines) and not _is_header(lines, i):
            body.append(lines[i])
            i += 1
        while out and out[-1] == "":
            out.pop()
        out += ["", f"**{title}**", ""]
        if title in LIST_SECTIONS:
            out += _list_section(body, see_also=title == "See Also")
        elif title == "Examples":
            out += _examples_section(body)
        else:
            out += [markdown_inline(line).rstrip() for line in textwrap.dedent("\n".join(body)).strip("\n").split("\n")]
        out.append("")
    return "\n".join(out).strip("\n")


# --- collecting the public names ----------------------------------------------------------------------------

def _members(cls: type, qualname: str) -> list[Entry]:
    """Public methods and documented properties defined by the class itself, in definition order."""
    members = []
    for name, attr in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(attr, property):
            if attr.__doc__:
                members.append(Entry(f"{qualname}.{name}", attr))
        elif isinstance(attr, (classmethod, staticmethod)) or inspect.isfunction(attr):
            members.append(Entry(f"{qualname}.{name}", getattr(cls, name), drop_self=inspect.isfunction(attr)))
    return members


def _properties_note(cls: type) -> str:
    """The properties without a docstring of their own, by name."""
    plain = [(name, attr.fset is not None) for name, attr in vars(cls).items()
             if isinstance(attr, property) and not name.startswith("_") and not attr.__doc__]
    if not plain:
        return ""
    return "Properties: " + ", ".join(f"`{name}`" + (" (settable)" if settable else "")
                                      for name, settable in plain) + "."


# Methods a scikit-learn estimator inherits, named without their docstrings (they vary between versions).
SKLEARN_INHERITED = ("score", "get_params", "set_params")


def _inherited_note(cls: type) -> str:
    bases = [base for base in cls.__bases__ if base.__module__.split(".")[0] == "sklearn"]
    names = [name for name in SKLEARN_INHERITED if hasattr(cls, name) and name not in vars(cls)]
    if not bases or not names:
        return ""
    return (", ".join(f"`{name}`" for name in names) + " are inherited from scikit-learn's "
            + " and ".join(f"`{base.__qualname__}`" for base in bases) + ".")


def entry(qualname: str, obj: Any) -> Entry:
    if inspect.isclass(obj):
        notes = [note for note in (_properties_note(obj), _inherited_note(obj)) if note]
        return Entry(qualname, obj, _members(obj, qualname), note="\n\n".join(notes))
    return Entry(qualname, obj)


def _home_module(package: ModuleType, name: str, obj: Any) -> str:
    """The public submodule that defines (or first holds) ``obj``, e.g. ``model`` for MLP."""
    defined_in = (getattr(obj, "__module__", None) or "").removeprefix(f"{package.__name__}.")
    if defined_in in MODULE_ORDER:
        return defined_in
    known = [m for m in MODULE_ORDER if f"{package.__name__}.{m}" in sys.modules]
    for short in known:
        if getattr(sys.modules[f"{package.__name__}.{short}"], name, None) is obj:
            return short
    return defined_in


def package_sections(package: ModuleType) -> list[tuple[str, str, list[Entry]]]:
    """(module name, module summary, entries) for the names of ``package.__all__``."""
    for short in MODULE_ORDER:  # import the submodules so _home_module can find them
        try:
            importlib.import_module(f"{package.__name__}.{short}")
        except ImportError:
            pass
    groups: dict[str, list[Entry]] = {}
    for name in package.__all__:
        obj = getattr(package, name)
        groups.setdefault(_home_module(package, name, obj), []).append(entry(f"{package.__name__}.{name}", obj))
    order = [m for m in MODULE_ORDER if m in groups] + sorted(set(groups) - set(MODULE_ORDER))
    sections = []
    for short in order:
        module = sys.modules.get(f"{package.__name__}.{short}")
        summary = (inspect.getdoc(module) or "").split("\n\n")[0].replace("\n", " ") if module else ""
        sections.append((f"{package.__name__}.{short}", markdown_inline(summary), groups[short]))
    return sections


def module_entries(module: ModuleType, names: list[str] | None = None) -> list[Entry]:
    """Public names of a module: ``names``, else ``__all__``, else those it defines or re-exports from the package."""
    if names is None:
        names = list(getattr(module, "__all__", []))
    if not names:
        names = [name for name, obj in vars(module).items() if not name.startswith("_")
                 and not inspect.ismodule(obj) and not isinstance(obj, type(dataclasses))
                 and (getattr(obj, "__module__", "weightnoise") or "").startswith("weightnoise")
                 and name != "annotations"]
    return [entry(f"{module.__name__}.{name}", getattr(module, name)) for name in names]


# --- rendering ----------------------------------------------------------------------------------------------

def anchor(heading: str) -> str:
    """A placeholder for the anchor of ``heading``, resolved by :func:`resolve_anchors`."""
    return f"@@anchor:{heading}@@"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text (before de-duplication)."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def resolve_anchors(text: str) -> str:
    """Replace the placeholders by GitHub's anchors: the slug, with -1, -2, … for repeated slugs."""
    anchors: dict[str, str] = {}
    seen: dict[str, int] = {}
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"(#+) (.+)$", line)
        if match:
            heading = match.group(2).strip()
            base = slug(heading)
            count = seen.get(base, 0)
            seen[base] = count + 1
            anchors.setdefault(heading, base if count == 0 else f"{base}-{count}")

    def replace(match: re.Match[str]) -> str:
        return anchors[match.group(1)]

    return re.sub(r"@@anchor:(.+?)@@", replace, text)


def _same_object_note(item: Entry, twins: dict[int, str]) -> str | None:
    twin = twins.get(id(item.obj))
    if twin and twin != item.qualname and (inspect.isclass(item.obj) or inspect.isroutine(item.obj)):
        return f"The same object as [`{twin}`](#{anchor(twin)})."
    return None


def render_entry(item: Entry, level: int, twins: dict[int, str]) -> list[str]:
    out = [f"{'#' * level} {item.qualname}", ""]
    same = _same_object_note(item, twins)
    if same:
        return [*out, same, ""]
    obj = item.obj
    if isinstance(obj, property):
        doc = inspect.getdoc(obj) or ""
        return [*out, "*property*", "", render_docstring(doc), ""]
    if inspect.isclass(obj) or inspect.isroutine(obj):
        sig = signature(obj, drop_first=item.drop_self)
        short = item.qualname.rsplit(".", 1)[-1]
        if sig is not None:
            kind = "class " if inspect.isclass(obj) else ""
            out += ["```python", kind + wrapped_signature(short, sig), "```", ""]
        doc = inspect.getdoc(obj)
        if inspect.isclass(obj) and doc == inspect.getdoc(obj.__mro__[1]):
            doc = None  # inherited, not this class's own
        out += [render_docstring(doc) if doc else "*(no docstring)*", ""]
    else:
        out += ["```python", f"{item.qualname.rsplit('.', 1)[-1]} = {obj!r}", "```", ""]
        module = sys.modules.get(item.qualname.rsplit(".", 1)[0])
        comment = _constant_comment(module, item.qualname.rsplit(".", 1)[-1]) if module else ""
        if comment:
            out += [comment, ""]
    if item.note:
        out += [item.note, ""]
    for member in item.members:
        out += render_entry(member, level + 1, twins)
    return out


def _constant_comment(module: ModuleType, name: str) -> str:
    """The comment lines right above ``NAME = ...`` in the module's source, if any."""
    try:
        source = inspect.getsource(module).splitlines()
    except (OSError, TypeError):
        return ""
    for k, line in enumerate(source):
        if re.match(rf"{re.escape(name)}\s*(:[^=]*)?=", line):
            comments: list[str] = []
            j = k - 1
            while j >= 0 and source[j].startswith("#"):
                comments.insert(0, source[j].lstrip("# ").rstrip())
                j -= 1
            return markdown_inline(" ".join(comments))
    return ""


def _toc_line(item: Entry) -> str:
    return f"[`{item.qualname.rsplit('.', 1)[-1]}`](#{anchor(item.qualname)})"


def render() -> str:
    """The whole of docs/api.md."""
    import weightnoise
    import weightnoise.reference
    import weightnoise.sklearn

    sections = package_sections(weightnoise)
    reference = module_entries(weightnoise.reference)
    sklearn_entries = module_entries(weightnoise.sklearn)
    twins = {id(item.obj): item.qualname for _, _, entries in sections for item in entries}

    out = [PREAMBLE, "## Contents", ""]
    for module, _, entries in sections:
        out.append(f"- [`{module}`](#{anchor('Module ' + module)}): " + ", ".join(_toc_line(item) for item in entries))
    for title, entries in (("weightnoise.reference", reference), ("weightnoise.sklearn", sklearn_entries)):
        out.append(f"- [`{title}`](#{anchor(title)}): " + ", ".join(_toc_line(item) for item in entries))
    out.append("")

    out += ["## weightnoise", "", ("`import weightnoise as wn`: every name of `weightnoise.__all__`, by the "
                                   "module that defines it. `from_torch` and `to_torch` are imported on first use."),
            ""]
    for module, summary, entries in sections:
        out += [f"### Module {module}", "", summary, ""]
        for item in entries:
            out += render_entry(item, 4, twins)
    for module, entries in (("weightnoise.reference", reference), ("weightnoise.sklearn", sklearn_entries)):
        mod = importlib.import_module(module)
        out += [f"## {module}", "", render_docstring(inspect.getdoc(mod) or ""), ""]
        for item in entries:
            out += render_entry(item, 3, twins)
    text = "\n".join(out)
    text = resolve_anchors(re.sub(r"\n{3,}", "\n\n", text))
    return text.rstrip("\n") + "\n"


def main(argv: list[str] | None = None, *, write: Callable[[str], Any] = OUTPUT.write_text) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/api.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current == text:
            return 0
        sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                                   "docs/api.md", "generated", n=1))
        print("docs/api.md is out of date: run python tools/api_reference.py", file=sys.stderr)
        return 1
    write(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
