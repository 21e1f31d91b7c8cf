"""Every command and keyword the documentation shows works with the code as it is.

The commands (``python -m sksubset.experiments ...``, ``sksubset-bench ...`` and
``python examples/...py ...``) are taken from README.md, every ``docs/*.md`` page, the API
pages (``docs/api/*.rst``) and the docstrings of ``examples/**/*.py``: from fenced and
indented code blocks and from inline code spans, with ``\\`` continuations joined, shell
variables set in the same block (``C="..."``, ``for R in 1 2; do``) expanded and the optional
parts of a usage line (``[--out DIR]``, ``cpu|cuda``) filled in.  Each command goes through the
real argument parser of what it runs and the runner's own checks before a run
(:func:`sksubset.experiments.__main__.check_args`); nothing is trained.

The keywords that a code snippet of the same pages passes to an estimator or a selector
(``GradMatchSelector(pool_factor=3)``) must be parameters of that class.
"""

import argparse
import ast
import contextlib
import importlib.util
import inspect
import io
import itertools
import pathlib
import re
import shlex
import sys

import pytest

import sksubset
from sksubset.experiments.__main__ import build_parser, check_args

ROOT = pathlib.Path(__file__).parents[1]
FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", flags=re.M | re.S)
INLINE = re.compile(r"``(.+?)``|`([^`\n]+)`")
ASSIGN = re.compile(r"^([A-Za-z_]\w*)=(.*)$")
FOR = re.compile(r"^for ([A-Za-z_]\w*) in (.*?);\s*do$")
VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
SEPARATORS = {"&&", "||", ";", "|", "&"}
REDIRECTION = re.compile(r"\s\d*(?:>>?|<|&>)(?:&\d+|\s*[^\s&|;]+)")
#: variables of the environment a documented command may use unset in its block
ENVIRONMENT = ("PWD", "HOME", "OUT", "TMPDIR", "USER")

#: the classes whose keywords the snippets are checked against (their ``get_params()``)
CLASSES = ("SubsetTrainingClassifier", "SubsetTrainingRegressor", "GradMatchSelector",
           "RandomSelector", "CraigSelector", "GlisterSelector", "CrestSelector")


def _pages():
    """``(path, text)`` of every page the commands and snippets are taken from."""
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "docs" / "api").glob("*.rst"))]
    pages = [(p, p.read_text(encoding="utf-8")) for p in paths]
    for path in sorted((ROOT / "examples").rglob("*.py")):
        module = ast.parse(path.read_text(encoding="utf-8"))
        docstring = ast.get_docstring(module, clean=False)
        if docstring:
            pages.append((path, docstring))
    return pages


def _blocks(text):
    """``(first line number, code, prose)`` of the page's code: each fenced block on its own
    (its variables are its own), each inline code span, and the rest of the page as one
    ``prose`` block, whose lines count only when they start with a command (the indented
    literal blocks of reStructuredText and docstrings)."""
    blocks, rest = [], list(text)
    for m in FENCE.finditer(text):
        blocks.append((text.count("\n", 0, m.start(1)) + 1, m.group(1), False))
        rest[m.start():m.end()] = re.sub(r"[^\n]", " ", m.group(0))  # keeps line numbers
    rest = "".join(rest)
    for m in INLINE.finditer(rest):
        code = m.group(1) or m.group(2)
        blocks.append((rest.count("\n", 0, m.start()) + 1, code, False))
    blocks.append((1, INLINE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), rest), True))
    return blocks


def _usage_filled(line):
    """A usage line's optional parts taken (``[--out DIR]``: ``--out DIR``), the first of
    alternatives (``cpu|cuda``: ``cpu``)."""
    while OPTIONAL.search(line):
        line = OPTIONAL.sub(lambda m: re.sub(r"(\S+?)\|\S+", r"\1", m.group(1)), line)
    return line


def _expand(line, variables):
    """Every expansion of ``line``: one per combination of the loop variables it uses."""
    used = [name for a, b in VARIABLE.findall(line) for name in (a or b,)]
    variables = {**{name: [f"/{name.lower()}"] for name in ENVIRONMENT}, **variables}
    missing = [name for name in used if name not in variables]
    if missing:
        raise KeyError(f"${missing[0]} is not set in the same code block")
    names = list(dict.fromkeys(used))
    lines = []
    for values in itertools.product(*(variables[n] for n in names)):
        env = dict(zip(names, values))
        lines.append(VARIABLE.sub(lambda m, e=env: e[m.group(1) or m.group(2)], line))
    return lines


def _words(line):
    """The shell words of ``line``, ``;``, ``&&``, ``|`` and ``&`` words of their own."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    return list(lexer)


def _command_of(words):
    """``(kind, target, argv)`` of a shell command's words, or None when it runs nothing of
    this project: kind ``"runner"`` (``python -m sksubset.experiments``, ``sksubset-bench``)
    or ``"script"`` (``python examples/...py``)."""
    while words and (words[0] == "time" or ASSIGN.match(words[0])):
        words = words[1:]
    if not words:
        return None
    if words[0] == "sksubset-bench":
        return "runner", None, words[1:]
    if re.fullmatch(r"python[\d.]*", words[0]) and len(words) > 1:
        if words[1:3] == ["-m", "sksubset.experiments"]:
            return "runner", None, words[3:]
        if words[1].startswith("examples/") and words[1].endswith(".py"):
            return "script", words[1], words[2:]
    return None


def commands_of(text):
    """``(line number, command text, (kind, target, argv))`` of every command in ``text``."""
    found = []
    for first, code, prose in _blocks(text):
        variables = {}
        lines = code.split("\n")
        i = 0
        while i < len(lines):
            line, number = lines[i].strip(), first + i
            i += 1
            while line.endswith("\\") and i <= len(lines):  # a continuation: join
                line = line[:-1] + " " + (lines[i].strip() if i < len(lines) else "")
                i += 1
            if line.startswith((">>>", "$ ")):
                line = line.split(" ", 1)[1] if " " in line else ""
            if prose and not re.match(r"(python[\d.]*|sksubset-bench)\s", line + " "):
                continue
            loop = FOR.match(line)
            if loop:
                variables[loop.group(1)] = shlex.split(loop.group(2))
                continue
            assign = ASSIGN.match(line)
            if assign:
                try:
                    value = shlex.split(assign.group(2), comments=True)
                except ValueError:
                    continue
                variables[assign.group(1)] = _expand(" ".join(value), variables)
                continue
            if not re.search(r"(?:^|\s)(python[\d.]*|sksubset-bench)\s", line + " "):
                continue
            for expanded in _expand(_usage_filled(line), variables):
                try:
                    words = _words(REDIRECTION.sub(" ", expanded))
                except ValueError:
                    continue
                parts = [[]]
                for w in words:
                    if w in SEPARATORS:
                        parts.append([])
                    else:
                        parts[-1].append(w)
                for part in parts:
                    command = _command_of(part)
                    if command is not None:
                        found.append((number, expanded, command))
    return found


def _documented_commands():
    out = []
    for path, text in _pages():
        try:
            found = commands_of(text)
        except KeyError as exc:  # reported by the test, not at collection
            found = [(0, "", ("error", None, exc.args[0]))]
        for number, line, command in found:
            out.append(pytest.param(command, line, id=f"{path.relative_to(ROOT)}:{number}"))
    return out


class _Parsed(Exception):
    """Raised in place of running a script once its arguments are parsed."""


_SCRIPTS = {}


def _script(path):
    """The module of an example script, imported under another name (its main not run)."""
    if path not in _SCRIPTS:
        name = "_docs_" + re.sub(r"\W", "_", path)
        spec = importlib.util.spec_from_file_location(name, ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _SCRIPTS[path] = module
    return _SCRIPTS[path]


def check_command(kind, target, argv):
    """Parse ``argv`` as the command would, without running anything; raises
    ``AssertionError`` with the parser's message when it refuses them."""
    if kind == "error":
        raise AssertionError(argv)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            if kind == "runner":
                parser = build_parser()
                check_args(parser, parser.parse_args(argv))
                return
            path = ROOT / target
            assert path.is_file(), f"{target} does not exist"
            if "argparse" not in path.read_text(encoding="utf-8"):
                assert not argv, f"{target} takes no arguments"
                return
            module = _script(target)
            original = argparse.ArgumentParser.parse_args

            def parse_then_stop(self, args=None, namespace=None):
                raise _Parsed(original(self, args, namespace))

            saved = sys.argv
            argparse.ArgumentParser.parse_args = parse_then_stop
            sys.argv = [target, *argv]
            try:
                if inspect.signature(module.main).parameters:
                    module.main(argv)
                else:
                    module.main()
            except _Parsed:
                return
            finally:
                argparse.ArgumentParser.parse_args = original
                sys.argv = saved
            raise AssertionError(f"{target}'s main() parsed no arguments")
    except SystemExit as exc:
        raise AssertionError(err.getvalue().strip().splitlines()[-1]) from exc


COMMANDS = _documented_commands()


def test_the_docs_show_commands_of_every_kind():
    kinds = [p.values[0][0] for p in COMMANDS]
    scripts = {p.values[0][1] for p in COMMANDS}
    assert kinds.count("runner") >= 20 and kinds.count("script") >= 10
    assert "examples/benchmarks/frontier_in_epochs.py" in scripts
    lines = " ".join(p.values[1] for p in COMMANDS)
    assert "$" not in lines and "sksubset-bench" in lines
    assert any(p.id.startswith("README.md") for p in COMMANDS)


@pytest.mark.parametrize("command, line", COMMANDS)
def test_documented_command_parses(command, line):
    try:
        check_command(*command)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nin the command: {line}") from None


def test_a_renamed_option_fails():
    """What the suite catches: an option, a strategy or a selector parameter that the code no
    longer has, in a block with variables and a loop as docs/benchmarks.md writes them."""
    text = """
```bash
C="--dataset fashion-mnist --epochs 100 --quiet"   # shared
for R in 5 10; do
  python -m sksubset.experiments $C --R $R --strategies gradmatch-pc-warm \\
      --tag R${R} --selector-param pool_fraction=0.3
done
sksubset-bench --strategies default --selector-param pool_factor=3
```
Also `python -m sksubset.experiments --pool-fraction 0.3` and
``python examples/benchmarks/frontier_in_epochs.py results/x [--budgets 0.1|0.3]``.
"""
    found = commands_of(text)
    assert [argv for _, _, (_, _, argv) in found] == [
        ["--dataset", "fashion-mnist", "--epochs", "100", "--quiet", "--R", r, "--strategies",
         "gradmatch-pc-warm", "--tag", f"R{r}", "--selector-param", "pool_fraction=0.3"]
        for r in ("5", "10")] + [
        ["--strategies", "default", "--selector-param", "pool_factor=3"],
        ["--pool-fraction", "0.3"], ["results/x", "--budgets", "0.1"]]
    for _, _, command in found[:2]:
        with pytest.raises(AssertionError, match="has no parameter 'pool_fraction'"):
            check_command(*command)
    check_command(*found[2][2])
    with pytest.raises(AssertionError, match="unrecognized arguments: --pool-fraction"):
        check_command(*found[3][2])
    check_command(*found[4][2])
    with pytest.raises(AssertionError, match="Unknown strategy 'gradmatch-nonsense'"):
        check_command("runner", None, ["--strategies", "gradmatch-nonsense"])
    with pytest.raises(AssertionError, match="unrecognized arguments: --nonsense"):
        check_command("script", "examples/benchmarks/frontier_in_epochs.py",
                      ["results/x", "--nonsense"])
    with pytest.raises(KeyError, match=r"\$D is not set"):
        commands_of("```\npython -m sksubset.experiments $D\n```")


# -- keywords of the snippets ---------------------------------------------------------------
def _scan(text, depth=0):
    """``(character, bracket depth before it, whether it lies in a string literal, its quotes
    included)`` for each character of ``text``."""
    quote = None
    for c in text:
        quoted = quote is not None
        if quote:
            quote = None if c == quote else quote
        elif c in "\"'":
            quote, quoted = c, True
        yield c, depth, quoted
        if not quoted and c in "([{":
            depth += 1
        elif not quoted and c in ")]}":
            depth -= 1


def _calls(text, name):
    """``(offset, argument text)`` of each call ``name(...)`` in ``text`` (balanced parentheses,
    strings skipped)."""
    out = []
    for m in re.finditer(rf"(?<![\w.]){name}\(", text):
        for j, (c, depth, quoted) in enumerate(_scan(text[m.end():], depth=1)):
            if not quoted and c in ")]}" and depth == 1:
                out.append((m.start(), text[m.end():m.end() + j]))
                break
    return out


def keywords_of(arguments):
    """The keyword names of a call's argument text (top level only)."""
    parts, current = [], []
    for c, depth, quoted in _scan(arguments):
        if c == "," and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return [m.group(1) for p in parts for m in [re.match(r"\s*(\w+)\s*=(?!=)", p)] if m]


def unknown_keywords(text):
    """``(line number, "Class(keyword=...)")`` of every keyword not in its class's
    ``get_params()``."""
    bad = []
    for name in CLASSES:
        known = set(getattr(sksubset, name)._get_param_names())
        for offset, arguments in _calls(text, name):
            for keyword in keywords_of(arguments):
                if keyword not in known:
                    bad.append((text.count("\n", 0, offset) + 1, f"{name}({keyword}=...)"))
    return bad


def unknown_keywords_in_code(source):
    """The same for Python source: its calls of the classes, read from its syntax tree."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in CLASSES:
                known = set(getattr(sksubset, name)._get_param_names())
                bad += [(node.lineno, f"{name}({k.arg}=...)") for k in node.keywords
                        if k.arg is not None and k.arg not in known]
    return bad


def _snippet_pages():
    """Every page's text (the docstrings of the examples among them) and every example's code."""
    pages = [pytest.param(text, False, id=str(path.relative_to(ROOT)))
             for path, text in _pages()]
    pages += [pytest.param(path.read_text(encoding="utf-8"), True,
                           id=f"{path.relative_to(ROOT)} (code)")
              for path in sorted((ROOT / "examples").rglob("*.py"))]
    return pages


@pytest.mark.parametrize("text, code", _snippet_pages())
def test_snippet_keywords_are_parameters(text, code):
    assert (unknown_keywords_in_code if code else unknown_keywords)(text) == []


def test_snippet_keywords_are_checked():
    text = ('Use `GradMatchSelector(pool_factor=3, sampling="cycle")` or\n'
            "clf = SubsetTrainingClassifier(net, selector=GradMatchSelector(\n"
            "    pool_fraction=0.3, lam=f(a=1)), budget=0.1, R=5, epochs=3)\n")
    assert keywords_of('net, selector=GradMatchSelector(x=1), budget=0.1, s="a=b"') == [
        "selector", "budget", "s"]
    assert unknown_keywords(text) == [(2, "SubsetTrainingClassifier(epochs=...)"),
                                      (2, "GradMatchSelector(pool_fraction=...)")]
    code = "from sksubset import GradMatchSelector\nsel = GradMatchSelector(pool_fraction=0.3)\n"
    assert unknown_keywords_in_code(code) == [(2, "GradMatchSelector(pool_fraction=...)")]


# -- the defaults the API pages state --------------------------------------------------------
def stated_defaults(text):
    """``(parameter, default text, names)`` of each row of the shared-parameter table: its
    default where it is one literal, and the classes or functions of its "where" cell."""
    table = text.split(".. _shared-parameters:", 1)[1].split(".. list-table::", 1)[1]
    table = re.split(r"\n(?=\S)", table, maxsplit=1)[0]  # up to the next unindented line
    rows = []
    for row in re.split(r"^   \* - ", table, flags=re.M)[2:]:  # the first is the header
        cells = [" ".join(c.split()) for c in re.split(r"^     - ", row, flags=re.M)]
        if len(cells) != 4:
            continue
        name = re.fullmatch(r"``(\w+)``", cells[0])
        default = re.fullmatch(r"``([^`]+)``", cells[2])
        if name and default:
            rows.append((name.group(1), default.group(1), re.findall(r"``(\w+)``", cells[3])))
    return rows


def test_the_shared_parameter_table_states_the_code_defaults():
    rows = stated_defaults((ROOT / "docs" / "api" / "index.rst").read_text(encoding="utf-8"))
    assert {"budget", "R", "tol", "sampling"} <= {name for name, _, _ in rows}
    checked = 0
    for name, default, owners in rows:
        for owner in owners:
            obj = getattr(sksubset, owner, None)
            params = inspect.signature(obj).parameters if callable(obj) else {}
            if name in params:
                assert params[name].default == ast.literal_eval(default), (
                    f"docs/api/index.rst gives {name}={default} for {owner}; the code "
                    f"{params[name].default!r}")
                checked += 1
    assert checked >= 10
