"""The ``gigawatt`` command line: one module per command group.

=================  ==========================================
module             commands
=================  ==========================================
``cli.run``        ``check``, ``run``
``cli.runs``       ``compare``, ``runs list|show|diff``
``cli.catalog``    ``catalog``
``cli.perf``       ``perf train|serve``, ``backtest``
``cli.ledger``     ``ledger``, ``deals``
``cli.report``     ``report``
``cli.optimize``   ``optimize``
``cli.sensitivity`` ``sensitivity``
``cli.sweep``      ``sweep``
``cli.bands``      tables of uncertain inputs and of a Monte Carlo run's bands
``cli.common``     consoles, the error printer, exit codes, scenario loading
``cli.formats``    number formats
``cli.tables``     tables of a run's summary that several commands print
=================  ==========================================

Each command imports the models when it runs, so that ``gigawatt --help`` and
``gigawatt check`` stay fast. Bad input prints every problem with its path,
line and a hint, and exits with status 2 (:data:`gigawatt.cli.common.EXIT_CODES`);
no traceback reaches the user. The front end holds no modeling math: it calls
:func:`gigawatt.load`, :func:`gigawatt.run` and the models' own functions, and
formats what they return.
"""

from __future__ import annotations

import typer

from gigawatt import __version__
from gigawatt.cli import catalog, ledger, optimize, perf, report, run, runs, sensitivity, sweep

__all__ = ["app", "main"]

app = typer.Typer(
    name="gigawatt",
    help=(
        "Plan and simulate gigawatt-scale AI compute deals: what the power, money and chip "
        "roadmap of a deal buy month by month, and what binds first.\n\n"
        "Start with: gigawatt run anthropic-aws-2026 (a deal of the library: gigawatt deals), "
        "or gigawatt run YOUR.yaml"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        print(f"gigawatt {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """gigawatt: compute deals in, a decade of capacity, power and money out."""


for _module in (run, runs, catalog, perf, ledger, report, optimize, sensitivity, sweep):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
