"""The docs stay true: every documented command line parses with the real parser, every flag and view exists."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN, DOCS, VIEWS = ROOT / "bin", ROOT / "docs", ROOT / "views"
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*\s+")
COMMAND = re.compile(r"^bin/([A-Za-z0-9][A-Za-z0-9_-]*)(?=\s|$)")
FLAG = re.compile(r"(?<![\w-])--[A-Za-z][A-Za-z0-9-]*")
SHELL_BLOCKS = {"", "sh", "bash", "shell", "console", "zsh"}  # ```text, ```python, ... hold no command lines
INLINE_CODE = re.compile(r"`([^`\n]+)`")
UNDOCUMENTED_OK = {"-h", "--help", "--home"}  # shared by every command, documented once at the top of cli.md


class _Captured(Exception):
    """Raised by the patched parse_args to stop a command's main() before its body runs."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


@dataclass(frozen=True)
class Example:
    """One documented command line: where it is, and its words after `bin/<name>` or `make`."""

    doc: str
    line: int
    text: str
    command: str
    argv: list[str]


def commands() -> list[str]:
    """Every executable in bin/ without a suffix (the shims), except the helpers starting with `_`."""
    return sorted(
        p.name
        for p in BIN.iterdir()
        if "." not in p.name and not p.name.startswith("_") and p.is_file() and os.access(p, os.X_OK)
    )


def capture_parser(name: str) -> argparse.ArgumentParser:
    """The parser `bin/<name>` builds in main(), captured at parse time: the command itself never runs."""
    module = importlib.import_module(f"bin.{name.replace('-', '_')}")

    def capture(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> object:
        raise _Captured(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(argparse.ArgumentParser, "parse_args", capture)
        mp.setattr(argparse.ArgumentParser, "parse_known_args", capture)
        try:
            module.main([])
        except _Captured as captured:
            return captured.parser
    raise AssertionError(f"bin/{name}: main() returned without parsing its arguments")


def parse_error(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """Why argparse refuses argv (its own message), or None when argv parses."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code not in (0, None):
                return err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {exc.code}"
    return None


def doc_name(path: Path) -> str:
    """A doc's path as reported: relative to the repository when it lies inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def doc_files() -> list[Path]:
    """README.md and every docs/*.md."""
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def fenced_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of every line inside a fenced (shell) code block, backslash continuations joined."""
    fence: str | None = None
    skip = False
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if fence is None:
            if stripped.startswith(("```", "~~~")):
                fence = stripped[:3]
                skip = stripped[3:].strip().lower() not in SHELL_BLOCKS
            continue
        if stripped.startswith(fence):
            fence = None
            continue
        if skip:
            continue
        start, joined = pending if pending else (number, "")
        joined += stripped
        if joined.endswith("\\"):
            pending = (start, joined[:-1] + " ")
            continue
        pending = None
        yield start, joined


def command_of(line: str) -> tuple[str, str] | None:
    """(command, rest) when a line runs `bin/<name>` or `make` (after an optional `$ ` and env assignments)."""
    line = line.strip().removeprefix("$ ").lstrip()
    while ENV_ASSIGNMENT.match(line):
        line = ENV_ASSIGNMENT.sub("", line, count=1)
    if match := COMMAND.match(line):
        return match.group(1), line[match.end() :]
    if line == "make" or line.startswith("make "):
        return "make", line[4:]
    return None


def examples(path: Path) -> Iterator[Example]:
    """Every command line in the fenced code blocks of one doc."""
    doc = doc_name(path)
    for number, line in fenced_lines(path.read_text(encoding="utf-8")):
        found = command_of(line)
        if found is None:
            continue
        command, rest = found
        try:
            argv = shlex.split(rest, comments=True)
        except ValueError as exc:
            argv = [f"<unparsable shell words: {exc}>"]
        yield Example(doc, number, line.strip(), command, argv)


def make_targets_and_variables() -> tuple[set[str], set[str]]:
    """The targets and the variables the Makefile defines."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M))
    variables = set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*[?:+]?=", text, re.M))
    return targets, variables


def check_make(example: Example) -> str | None:
    """Why a `make ...` line is wrong: an unknown target or variable."""
    targets, variables = make_targets_and_variables()
    for word in example.argv:
        name, is_assignment, _ = word.partition("=")
        if is_assignment and name not in variables:
            return f"the Makefile has no variable {name}"
        if not is_assignment and not word.startswith("-") and word not in targets:
            return f"the Makefile has no target {word}"
    return None


def check_examples(paths: list[Path], parsers: Mapping[str, argparse.ArgumentParser]) -> list[str]:
    """One line per documented command line that does not parse, naming doc, line and command."""
    problems = []
    for path in paths:
        for example in examples(path):
            where = f"{example.doc}:{example.line}: `{example.text}`"
            if example.command == "make":
                why = check_make(example)
            elif example.command not in parsers:
                why = f"there is no command bin/{example.command}"
            else:
                why = parse_error(parsers[example.command], example.argv)
                why = why and f"bin/{example.command}: {why}"
            if why:
                problems.append(f"{where}: {why}")
    return problems


def prose(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of every line outside fenced code blocks."""
    in_fence = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield number, line


def cli_sections(text: str) -> dict[str, list[tuple[int, str]]]:
    """The prose lines of docs/cli.md under each `## bin/<name>` heading."""
    sections: dict[str, list[tuple[int, str]]] = {}
    current: list[tuple[int, str]] | None = None
    for number, line in prose(text):
        if line.startswith("## "):
            match = COMMAND.match(line[3:].strip().strip("`"))
            current = sections.setdefault(match.group(1), []) if match else None
        elif current is not None:
            current.append((number, line))
    return sections


def options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string the parser accepts."""
    return set(parser._option_string_actions)


def check_mentioned_flags(paths: list[Path], parsers: Mapping[str, argparse.ArgumentParser]) -> list[str]:
    """Every `--flag` in prose of a `## bin/<name>` section of cli.md, or in an inline `bin/<name> ...`, exists."""
    problems = []
    for path in paths:
        doc, text = doc_name(path), path.read_text(encoding="utf-8")
        owner_of_line = (
            {n: name for name, lines in cli_sections(text).items() for n, _ in lines} if path.name == "cli.md" else {}
        )
        for number, line in prose(text):
            rest = line
            for span in INLINE_CODE.findall(line):
                found = command_of(span)
                if found and found[0] in parsers:
                    rest = rest.replace(span, "")
                    problems += _missing(doc, number, found[0], FLAG.findall(found[1]), parsers)
            if number in owner_of_line and owner_of_line[number] in parsers:
                problems += _missing(doc, number, owner_of_line[number], FLAG.findall(rest), parsers)
    return problems


def _missing(
    doc: str, number: int, name: str, flags: list[str], parsers: Mapping[str, argparse.ArgumentParser]
) -> list[str]:
    known = options(parsers[name])
    return [f"{doc}:{number}: bin/{name} has no flag {flag}" for flag in flags if flag not in known]


def check_cli_reference(parsers: Mapping[str, argparse.ArgumentParser]) -> list[str]:
    """Every command has a section in docs/cli.md, and each section names every flag of its parser."""
    sections = cli_sections((DOCS / "cli.md").read_text(encoding="utf-8"))
    problems = []
    for name, parser in sorted(parsers.items()):
        if name not in sections:
            problems.append(f"docs/cli.md: no `## bin/{name}` section for the command bin/{name}")
            continue
        mentioned = {flag for _, line in sections[name] for flag in FLAG.findall(line)}
        for flag in sorted(f for f in options(parser) if f.startswith("--") and f not in UNDOCUMENTED_OK):
            if flag not in mentioned:
                problems.append(f"docs/cli.md: the bin/{name} section does not document its flag {flag}")
    return problems


def documented_views() -> list[str]:
    """The names in the first column of the `| view | ...` table of docs/views.md."""
    names, in_table = [], False
    for line in (DOCS / "views.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else []
        if not cells:
            in_table = False
        elif cells[0] == "view":
            in_table = True
        elif in_table and (match := re.fullmatch(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[0])):
            names.append(match.group(1))
    return names


# ------------------------------------------------------------------------------------------------ tests


@pytest.fixture(scope="module")
def parsers() -> dict[str, argparse.ArgumentParser]:
    return {name: capture_parser(name) for name in commands()}


def test_commands_are_discovered_from_bin() -> None:
    found = commands()
    assert {"run-pipeline", "replay", "query", "diff", "verify", "tag"} <= set(found)
    assert "_shim" not in found


def test_every_documented_command_line_parses(parsers: dict[str, argparse.ArgumentParser]) -> None:
    assert sum(1 for p in doc_files() for _ in examples(p)) >= 20, "the docs lost their examples"
    problems = check_examples(doc_files(), parsers)
    assert not problems, "documented command lines that do not parse:\n" + "\n".join(problems)


def test_every_mentioned_flag_exists(parsers: dict[str, argparse.ArgumentParser]) -> None:
    problems = check_mentioned_flags(doc_files(), parsers)
    assert not problems, "flags the docs mention that the commands do not have:\n" + "\n".join(problems)


def test_every_command_and_flag_is_in_the_cli_reference(parsers: dict[str, argparse.ArgumentParser]) -> None:
    problems = check_cli_reference(parsers)
    assert not problems, "\n".join(problems)


def test_views_doc_lists_exactly_the_views() -> None:
    documented = documented_views()
    on_disk = sorted(p.stem for p in VIEWS.glob("*.sql"))
    assert len(documented) == len(set(documented)), f"docs/views.md lists a view twice: {documented}"
    assert sorted(documented) == on_disk, (
        f"docs/views.md documents views that do not exist: {sorted(set(documented) - set(on_disk))}; "
        f"views/*.sql not documented in docs/views.md: {sorted(set(on_disk) - set(documented))}"
    )


def test_readme_stays_a_landing_page() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 150


def _without(parser: argparse.ArgumentParser, flag: str) -> argparse.ArgumentParser:
    """The same parser with one option removed, as if a commit had deleted it."""
    action = parser._option_string_actions[flag]
    parser._remove_action(action)
    for option in action.option_strings:
        del parser._option_string_actions[option]
    for group in [*parser._action_groups, *parser._mutually_exclusive_groups]:
        if action in group._group_actions:
            group._group_actions.remove(action)
    return parser


def test_a_removed_flag_is_reported_at_its_doc_line(parsers: dict[str, argparse.ArgumentParser]) -> None:
    broken = {**parsers, "replay": _without(capture_parser("replay"), "--rebuild")}
    assert "--rebuild" in options(parsers["replay"]), "capturing a fresh parser must not touch the real one"
    expected = [
        f"{e.doc}:{e.line}: `{e.text}`"
        for p in doc_files()
        for e in examples(p)
        if e.command == "replay" and "--rebuild" in e.argv
    ]
    assert expected, "the docs should show bin/replay --rebuild somewhere"
    problems = check_examples(doc_files(), broken)
    for where in expected:
        assert any(p.startswith(where) and "--rebuild" in p for p in problems), f"not reported: {where}\n{problems}"
    assert any("docs/cli.md" in p and "--rebuild" in p for p in check_mentioned_flags(doc_files(), broken))
    assert not check_examples(doc_files(), parsers)


def test_an_undocumented_command_is_demanded(parsers: dict[str, argparse.ArgumentParser]) -> None:
    extra = argparse.ArgumentParser(prog="archive")
    extra.add_argument("--out")
    problems = check_cli_reference({**parsers, "archive": extra})
    assert problems == ["docs/cli.md: no `## bin/archive` section for the command bin/archive"]


def test_an_undocumented_flag_is_demanded(parsers: dict[str, argparse.ArgumentParser]) -> None:
    grown = capture_parser("verify")
    grown.add_argument("--since-seq", type=int)
    problems = check_cli_reference({**parsers, "verify": grown})
    assert problems == ["docs/cli.md: the bin/verify section does not document its flag --since-seq"]


def test_a_missing_command_and_a_bad_make_target_are_reported(
    tmp_path: Path, parsers: dict[str, argparse.ArgumentParser]
) -> None:
    doc = tmp_path / "probe.md"
    doc.write_text(
        "```sh\n$ LEDGERLINE_HOME=x bin/nosuch --flag\nmake runn\nmake run PROFILE=canary\n```\n", encoding="utf-8"
    )
    assert check_examples([doc], parsers) == [
        "probe.md:2: `$ LEDGERLINE_HOME=x bin/nosuch --flag`: there is no command bin/nosuch",
        "probe.md:3: `make runn`: the Makefile has no target runn",
    ]
