"""The CLI imports a command group's module only when that command runs, without
changing what ``--help`` says or what any command accepts."""

from __future__ import annotations

import argparse
import subprocess
import sys

from iso15118 import cli


def _choices(ap: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _help_lines(ap: argparse.ArgumentParser) -> dict[str, str | None]:
    action = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    return {c.dest: c.help for c in action._choices_actions}


def test_placeholder_help_lines_are_the_modules_own() -> None:
    full = _help_lines(cli.build_parser())
    for name, (_module, help_line) in cli.LAZY_COMMANDS.items():
        assert full[name] == help_line


def test_top_level_help_is_the_same_with_placeholders() -> None:
    assert cli.build_parser("").format_help() == cli.build_parser().format_help()
    assert list(_choices(cli.build_parser(""))) == list(_choices(cli.build_parser()))


def test_each_command_gets_its_real_parser() -> None:
    full = _choices(cli.build_parser())
    for name in list(cli.LAZY_COMMANDS) + ["decode", "encode"]:
        lazy = _choices(cli.build_parser(name))
        assert lazy[name].format_help() == full[name].format_help()


def test_decode_does_not_import_the_other_command_groups() -> None:
    code = ("import sys\nfrom iso15118 import cli\n"
            "cli.main(['decode', '-f', 'json', '809802000000000000000011d018286cb0f5397c00'])\n"
            "print(sorted(m for m in sys.modules if m.startswith('iso15118.cli_') "
            "or m in ('cryptography', 'asyncio', 'xmlschema')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.splitlines()[-1]
    assert out == "['iso15118.cli_style']"
