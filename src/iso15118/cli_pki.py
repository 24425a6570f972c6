"""``iso15118 pki ...``: test PKI generation, chain verification, eMAID inspection.

The main CLI calls :func:`add_subparser`; each handler takes the parsed arguments and
returns the exit status: 0 success/valid, 1 invalid (chain or check digit), 2 usage errors
(unreadable files, bad arguments).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path
from typing import Any

from iso15118.pki import (
    PkiError,
    ProtocolVersion,
    Role,
    create_test_pki,
    emaid_from_certificate,
    load_certificate,
    load_certificate_files,
    parse_emaid,
    validate_chain,
)
from iso15118.pki.emaid import contract_update_due, days_until_expiry

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _error(message: str) -> int:
    sys.stderr.write(f"iso15118 pki: error: {message}\n")
    return EXIT_USAGE


def _parse_time(text: str) -> _dt.datetime:
    try:
        value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def cmd_create_test_pki(args: argparse.Namespace) -> int:
    """Write a test PKI and print where its index is."""
    try:
        index = create_test_pki(args.directory, version=args.version)
    except OSError as exc:
        return _error(f"cannot write test PKI: {exc}")
    data = json.loads(index.read_text())
    _print_json(
        {
            "index": str(index),
            "version": data["version"],
            "certificates": len(data["certificates"]),
            "chains": sorted(data["chains"]),
        }
    )
    return EXIT_OK


def cmd_verify_chain(args: argparse.Namespace) -> int:
    """Validate a chain and print the verdict as JSON; exit 0 only when valid."""
    try:
        leaf = load_certificate_files([args.leaf])
        intermediates = load_certificate_files(args.intermediates)
        roots = load_certificate_files(args.trust)
        responses = [Path(p).read_bytes() for p in args.ocsp]
    except (PkiError, OSError) as exc:
        return _error(str(exc))
    if len(leaf) != 1:
        return _error(f"{args.leaf} must hold exactly one certificate, found {len(leaf)}")
    verdict = validate_chain(
        leaf[0],
        intermediates,
        roots,
        role=Role(args.role),
        version=ProtocolVersion.parse(args.version),
        at=args.at,
        ocsp_responses=responses,
    )
    _print_json(verdict.to_dict())
    return EXIT_OK if verdict.valid else EXIT_INVALID


def cmd_emaid(args: argparse.Namespace) -> int:
    """Print the eMAID of a contract certificate (or of an eMAID string) and its check."""
    source = Path(args.cert)
    out: dict[str, Any]
    try:
        if source.is_file():
            cert = load_certificate(source.read_bytes())
            emaid = emaid_from_certificate(cert)
            out = emaid.to_dict()
            out["not_after"] = cert.not_valid_after_utc.isoformat()
            out["days_until_expiry"] = round(days_until_expiry(cert), 2)
            out["update_due"] = contract_update_due(cert)
        else:
            if source.suffix.lower() in (".pem", ".der", ".crt", ".cer"):
                return _error(f"no such file: {args.cert}")
            emaid = parse_emaid(args.cert)
            out = emaid.to_dict()
    except (PkiError, OSError) as exc:
        return _error(str(exc))
    _print_json(out)
    return EXIT_INVALID if emaid.check_digit_valid is False else EXIT_OK


def add_subparser(subparsers: Any) -> None:
    """Register ``pki`` and its subcommands on the main CLI's subparsers object."""
    pki = subparsers.add_parser(
        "pki", help="Plug & Charge PKI: test PKI, chain verification, eMAID"
    )
    sub = pki.add_subparsers(dest="pki_command", metavar="COMMAND")
    sub.required = True

    create = sub.add_parser("create-test-pki", help="write every -2/-20 chain and broken variants")
    create.add_argument("directory", help="output directory (created if missing)")
    create.add_argument("--version", type=int, choices=(2, 20), default=2)
    create.set_defaults(func=cmd_create_test_pki)

    verify = sub.add_parser(
        "verify-chain", help="validate a chain against the ISO 15118 profile (JSON verdict)"
    )
    verify.add_argument("leaf", help="leaf certificate (PEM or DER)")
    verify.add_argument("intermediates", nargs="*", help="sub-CA certificates (any order)")
    verify.add_argument(
        "--trust", nargs="+", required=True, metavar="ROOT", help="trusted root certificate(s)"
    )
    verify.add_argument("--role", required=True, choices=[r.value for r in Role])
    verify.add_argument("--version", type=int, choices=(2, 20), default=2)
    verify.add_argument(
        "--at", type=_parse_time, default=None, help="validation time, ISO 8601 (default now)"
    )
    verify.add_argument(
        "--ocsp",
        action="append",
        default=[],
        metavar="RESPONSE",
        help="DER OCSP response file (repeatable)",
    )
    verify.set_defaults(func=cmd_verify_chain)

    emaid = sub.add_parser("emaid", help="eMAID of a contract certificate and its check digit")
    emaid.add_argument("cert", help="contract certificate (PEM or DER), or an eMAID string")
    emaid.set_defaults(func=cmd_emaid)


def run(argv: list[str] | None = None) -> int:
    """Run the ``pki`` commands standalone (``argv`` without the leading ``pki``)."""
    parser = argparse.ArgumentParser(prog="iso15118")
    subparsers = parser.add_subparsers(dest="command")
    add_subparser(subparsers)
    args = parser.parse_args(["pki", *(sys.argv[1:] if argv is None else argv)])
    result: int = args.func(args)
    return result
