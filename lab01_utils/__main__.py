"""`lab01` (or `python -m lab01_utils`): the lab's commands in one place.

    lab01 run        train both tasks with your exercises, then compare (`make run`)
    lab01 train      one training run, every option (`lab01 train --help`)
    lab01 compare    Task 1 vs Task 2 from a folder of runs
    lab01 progress   your exercises: done, not yet, failing
    lab01 handin     one archive of your work to hand in
    lab01 update     take a corrected release, keeping your work
    lab01 grade      (instructor) grade hand-ins: a CSV, Gradescope results, answer pages
    lab01 autograder (instructor) the Gradescope autograder bundle
    lab01 release    (instructor) write the student release
    lab01 digest     (instructor) the digest of a question's numeric answer

Each subcommand is its module's own command line (`python -m lab01_utils.train` and so on),
so its `--help`, its errors (to stderr) and its exit status (2 for a usage error) are the
same either way. The instructor's commands are offered only where their modules are
installed (the student release leaves `release` out).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

# name: (module, help); the module's `main(argv)` runs the subcommand.
COMMANDS = {
    "run": ("lab01_utils.main", "train both tasks with your exercises, then compare"),
    "train": ("lab01_utils.cli", "one training run, every option"),
    "compare": ("lab01_utils.compare", "Task 1 vs Task 2 from a folder of runs"),
    "progress": ("lab01_utils.progress", "your exercises: done, not yet, failing"),
    "handin": ("lab01_utils.handin", "one archive of your work to hand in"),
    "update": ("lab01_utils.update", "take a corrected release, keeping your work"),
    "grade": ("lab01_utils.grading", "(instructor) grade hand-ins"),
    "autograder": ("lab01_utils.autograder", "(instructor) the Gradescope bundle"),
    "release": ("lab01_utils.release", "(instructor) write the student release"),
    "digest": ("lab01_utils.questions", "(instructor) the digest of a numeric answer"),
}


def available() -> dict[str, tuple[str, str]]:
    """The subcommands whose modules are installed here."""
    return {k: v for k, v in COMMANDS.items() if importlib.util.find_spec(v[0]) is not None}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = available()
    parser = argparse.ArgumentParser(
        prog="lab01",
        description="Lab01's commands; `lab01 COMMAND --help` shows a command's options.",
        epilog="commands:\n" + "\n".join(f"  {k:<10} {h}" for k, (_, h) in commands.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=list(commands), metavar="COMMAND")
    if not argv:
        parser.print_help(sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    args = parser.parse_args(argv[:1])
    module = importlib.import_module(commands[args.command][0])
    rest = argv[1:]
    if args.command == "progress":  # takes no options
        if rest:
            parser.error(f"progress takes no arguments, got {' '.join(rest)}")
        return module.main()
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
