"""``vision profile``, ``vision drift`` and ``vision report`` (the statistics engine's CLI jobs).

``vision profile DATA [--reference REF.json] [--target COL] [--prediction COL]
[--timestamp COL --window W] [--exclude COL ...] [--epsilon E [--budget B]] [--dask local:N|tcp://…] -o OUT.json``
writes a pooled (with ``--epsilon``, differentially private) profile (a current profile may lack the target:
labels usually arrive later); ``vision drift REF.json CUR.json [--json] [--fail-on-drift]`` prints the
per-feature table, the verdict and the performance estimated without labels (CBPE; exit 0), or exits 3 with ``--fail-on-drift``
when the dataset drifted; ``vision report MODEL [--window LABEL] [--format html|json] -o FILE`` exports
a registered model's drift report. Bad input raises ``InvalidInput``; ``cli.main`` prints
it and exits 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

EXIT_DRIFT = 3


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the statistics sub-commands to the ``vision`` parser."""
    p = sub.add_parser("profile", help="profile a CSV/Parquet file into a shareable JSON profile")
    p.add_argument("data", help="CSV (UTF-8) or Parquet file")
    p.add_argument("--reference", metavar="REF.json", help="the training profile (makes this a current profile)")
    p.add_argument("--target", help="label column")
    p.add_argument("--prediction", help="model output column (class, score or value)")
    p.add_argument("--timestamp", help="date/time column (enables --window)")
    p.add_argument("--window", help="window per sub-profile: 1D, 7D, 1M, 1h, or a row count")
    p.add_argument("--exclude", nargs="+", action="extend", default=[], metavar="COL", help="columns never read (ids, free text)")
    p.add_argument("--features", nargs="+", action="extend", default=None, metavar="COL", help="profile only these features")
    p.add_argument("--categorical", nargs="+", action="extend", default=[], metavar="COL", help="treat these columns as categorical")
    p.add_argument("--k", type=int, default=None, help="privacy threshold: nothing backed by fewer rows is written (default 10)")
    p.add_argument("--chunk-rows", type=int, default=None, help="rows read at a time (memory vs speed)")
    p.add_argument("--epsilon", type=float, default=None,
                   help="differential privacy: Laplace noise on every count at this ε (e.g. 1; smaller hides more)")
    p.add_argument("--budget", type=float, default=None,
                   help="with --epsilon: total ε this data may spend over all releases (default: one release)")
    p.add_argument("--dask", metavar="local:N|tcp://HOST:8786", default=None,
                   help="profile a Parquet file or folder on Dask: local:N starts N worker processes here, "
                        "tcp://… uses a running scheduler; one task per row group, partial profiles merged")
    p.add_argument("--dask-timeout", type=float, default=None, metavar="SECONDS",
                   help="with --dask: how long to wait for the scheduler and its first worker (15)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.json", help="where to write the profile")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_profile)

    d = sub.add_parser("drift", help="compare a current profile with its reference")
    d.add_argument("reference", metavar="REF.json")
    d.add_argument("current", metavar="CUR.json")
    d.add_argument("--json", action="store_true", help="print the report as JSON (stable shape for scripts)")
    d.add_argument("--fail-on-drift", action="store_true", help=f"exit {EXIT_DRIFT} when the dataset drifted")
    d.add_argument("--drift-share", type=float, default=None, help="share of drifted features that makes the dataset drift (0.5)")
    d.add_argument("--method", action="append", default=[], metavar="FEATURE=METHOD", help="override a feature's method")
    d.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE", help="threshold for a feature or a method")
    d.set_defaults(func=cmd_drift)

    r = sub.add_parser("report", help="export a registered model's drift report (self-contained HTML, or JSON)")
    r.add_argument("model", metavar="MODEL", help="the model's name, as registered")
    r.add_argument("--window", default=None, metavar="LABEL", help="a production window's label (default: the latest)")
    r.add_argument("--format", choices=("html", "json"), default=None,
                   help="html (default) or json; taken from the output's extension when not given")
    r.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the report")
    r.set_defaults(func=cmd_report)


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it: all of it, or nothing."""
    from vision_widgets.client import InvalidInput

    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # nothing half-written on failure
    except OSError as exc:
        raise InvalidInput(f"cannot write {path} ({exc.strerror or exc}); choose a writable path.") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cmd_report(args: argparse.Namespace) -> int:
    """``vision report MODEL [--window LABEL] [--format html|json] -o FILE``, run on the server as an operator.

    Like ``vision users``, it reads the database of ``VISION_HOME`` directly, acting as the
    operator (whoever can run it there can read the database anyway), through the same
    service the page's download uses.
    """
    from vision_widgets.cli import _context, _operator_principal
    from vision_widgets.services import drift_report

    fmt = args.format or ("json" if args.output.lower().endswith(".json") else "html")
    ctx = _context()
    export = drift_report.export_json if fmt == "json" else drift_report.export_html
    data = export(ctx, _operator_principal(), args.model, args.window)
    write_atomically(args.output, data)
    print(f"wrote the {fmt.upper()} drift report of {args.model!r} ({len(data) / 1024:.0f} KiB) to {args.output}")
    return 0


def _load_profile(path: str) -> Any:
    from vision_widgets.client import InvalidInput, Profile

    try:
        with open(path, "rb") as fh:
            return Profile.from_json(fh.read())
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file; give the path of a profile JSON written by `vision profile`.") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a folder; give a profile JSON file.") from None
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from None


def cmd_profile(args: argparse.Namespace) -> int:
    from vision_widgets.client import (
        DEFAULT_CHUNK_ROWS,
        DEFAULT_K,
        InvalidInput,
        Noise,
        Roles,
        profile,
    )

    reference = _load_profile(args.reference) if args.reference else None
    if args.budget is not None and args.epsilon is None:
        raise InvalidInput("--budget needs --epsilon (the ε each release spends).")
    noise = Noise(args.epsilon, budget=args.budget) if args.epsilon is not None else None
    if args.window and not args.timestamp and not str(args.window).strip().isdigit():
        raise InvalidInput("--window needs --timestamp COL (or give a row count).")
    if reference is not None and not any((args.target, args.prediction, args.timestamp, args.exclude, args.features)):
        roles = reference.roles
    else:
        base = reference.roles if reference is not None else Roles()
        roles = Roles(
            features=tuple(args.features) if args.features else None,
            target=args.target or base.target,
            prediction=args.prediction or base.prediction,
            timestamp=args.timestamp,
            exclude=tuple(args.exclude) or base.exclude,
            types={c: "categorical" for c in args.categorical} or base.types,
        )
    show = not args.quiet and sys.stderr.isatty()

    def progress(frac: float) -> None:
        if show:
            print(f"\rprofiling {args.data}: {frac:5.1%}", end="", file=sys.stderr, flush=True)

    options = dict(reference=reference, chunk_rows=args.chunk_rows or DEFAULT_CHUNK_ROWS, progress=progress,
                   k=args.k or (reference.k if reference is not None else DEFAULT_K), window=args.window, noise=noise)
    if args.dask:
        from vision_widgets.core.stats import distributed

        if noise is not None:
            raise InvalidInput("--epsilon cannot be used with --dask: the privacy budget is kept per exact profile, "
                               "and the split into partitions would change it; profile without --dask.")
        if not distributed.is_parquet(args.data):
            raise InvalidInput(f"--dask profiles Parquet (a .parquet file, a folder of them or an object-store URL); "
                               f"{args.data} is not one. Drop --dask to profile it in this process, or convert it.")
        prof = distributed.profile_parquet(args.data, roles, dask=args.dask,
                                           timeout=args.dask_timeout or distributed.CONNECT_TIMEOUT, **options)
    elif args.dask_timeout is not None:
        raise InvalidInput("--dask-timeout needs --dask.")
    else:
        prof = profile(args.data, roles, **options)
    if show:
        print(file=sys.stderr)
    write_atomically(args.output, prof.to_json(indent=1).encode("utf-8"))
    kind = "current" if reference is not None else "reference"
    print(f"wrote {kind} profile of {prof.rows:,} rows, {len(prof.columns)} features"
          f"{f', {len(prof.windows)} windows' if prof.windows else ''} to {args.output}")
    return 0


def _pairs(items: list[str], what: str) -> dict[str, str]:
    from vision_widgets.client import InvalidInput

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise InvalidInput(f"{what} {item!r} must look like NAME=VALUE.")
        out[key] = value
    return out


def cmd_drift(args: argparse.Namespace) -> int:
    from vision_widgets.client import InvalidInput
    from vision_widgets.core.stats.drift import DriftSettings, drift

    reference = _load_profile(args.reference)
    current = _load_profile(args.current)
    thresholds: dict[str, float] = {}
    for key, value in _pairs(args.threshold, "--threshold").items():
        try:
            thresholds[key] = float(value)
        except ValueError:
            raise InvalidInput(f"--threshold {key}={value!r}: the value must be a number.") from None
    settings = DriftSettings(
        drift_share=args.drift_share if args.drift_share is not None else 0.5,
        methods=_pairs(args.method, "--method"),
        thresholds=thresholds,
    )
    report = drift(reference, current, settings)
    perf = estimate_performance(reference, current)
    if args.json:
        print(json.dumps(dict(report.to_dict(), performance=perf.to_dict()), indent=1, allow_nan=False))
    else:
        print(format_table(report))
        print(format_performance(perf))
    if args.fail_on_drift and report.dataset_drift:
        return EXIT_DRIFT
    return 0


def estimate_performance(reference: Any, current: Any) -> Any:
    """Estimated (CBPE) and realised performance of ``current``'s windows (or of it whole, as "current")."""
    from vision_widgets.core.catalog.windows import production_windows
    from vision_widgets.services.estimation import series

    return series(reference, production_windows([(current.window or "current", current)]))


def format_performance(perf: Any) -> str:
    """Estimated vs realised performance per window, as plain text (or why it cannot be estimated)."""
    if perf.reason:
        return f"performance estimate: none — {perf.reason}"
    lines = ["estimated performance (from the scores, no labels needed; realised where labels exist):"]
    head = ("window", "rows") + tuple(perf.metrics)
    rows = [head]
    for i, w in enumerate(perf.windows):
        cells = [w, f"{perf.rows[i]:,}"]
        for m in perf.metrics:
            e, r = perf.estimated[m][i], perf.realised[m][i]
            text = "-" if e is None else f"{e:.3f}{'!' if perf.alerts[m][i] else ''}"
            cells.append(text + ("" if r is None else f" ({r:.3f})"))
        rows.append(tuple(cells))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines += ["  ".join(c.ljust(wd) for c, wd in zip(r, widths)).rstrip() for r in rows]
    band = ", ".join(f"{m} {lo:.3f}–{hi:.3f}" for m, (lo, hi) in perf.band.items())
    lines.append(f"band ({perf.band_source}): {band}; '!' marks an estimate outside it; (realised) in brackets")
    return "\n".join(lines)


def format_table(report: Any) -> str:
    """The per-feature table and the verdict, as plain text."""
    head = ("feature", "type", "method", "statistic", "p-value", "threshold", "PSI", "drift")
    rows = [head]
    for f in report.features:
        rows.append((
            f.feature, f.type, f.method, f"{f.statistic:.4g}",
            "" if f.p_value is None else f"{f.p_value:.3g}", f"{f.threshold:g}", f"{f.psi:.3g}",
            "DRIFT" if f.drifted else "-",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    notes = [f"  note {f.feature}: {f.note}" for f in report.features if f.note]
    n = len(report.features)
    drifted = sum(f.drifted for f in report.features)
    verdict = "DATASET DRIFT" if report.dataset_drift else "no dataset drift"
    lines += notes
    lines.append(f"{verdict}: {drifted} of {n} features drifted ({report.drift_share:.0%}; threshold {report.threshold_share:.0%})")
    if report.windows:
        lines.append("windows: " + ", ".join(f"{w.window} {w.drift_share:.0%}{' DRIFT' if w.dataset_drift else ''}"
                                             for w in report.windows))
    return "\n".join(lines)
