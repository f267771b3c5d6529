"""`headon`: the one command line for operator work.

`headon COMMAND --help` explains each command. The operator commands are
listed first; every Django management command (migrate, check, shell, ...)
works too.
"""

from __future__ import annotations

import os
import sys

OPERATOR_COMMANDS = [
    "demo",
    "serve",
    "worker",
    "createadmin",
    "import-asks",
    "digest",
    "draw",
    "backup",
    "restore",
]
# Operator spellings of management commands whose module names cannot hold "-".
ALIASES = {"import-asks": "import_asks"}
MAINTENANCE_COMMANDS = ["migrate", "check", "collectstatic", "shell", "dbshell"]


def _usage() -> str:
    from django.core.management import get_commands, load_command_class

    commands = get_commands()
    lines = [
        "usage: headon COMMAND [options]",
        "",
        "Answer every question the public asked today, tonight; run open factory days.",
        "",
        "Operator commands:",
    ]
    for name in OPERATOR_COMMANDS + MAINTENANCE_COMMANDS:
        if name == MAINTENANCE_COMMANDS[0]:
            lines += ["", "Maintenance:"]
        command = ALIASES.get(name, name)
        help_text = load_command_class(commands[command], command).help.strip().splitlines()[0]
        lines.append(f"  {name:<14}{help_text}")
    lines += [
        "",
        "`headon COMMAND --help` explains a command. `headon help --commands` lists",
        "every command, including all of Django's.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "headon.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    import django
    from django.core.management import execute_from_command_line

    if not args or args in (["-h"], ["--help"], ["help"]):
        django.setup()
        print(_usage())  # noqa: T201
        return
    args[0] = ALIASES.get(args[0], args[0])
    execute_from_command_line(["headon", *args])


if __name__ == "__main__":
    main()
