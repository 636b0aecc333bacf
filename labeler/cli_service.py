"""The CLI's service side: `labeler serve`, `labeler propagate`, `labeler keys hash-token`, and the
`--server HOST:PORT` path of `label`/`verify` (the same commands, answered by a labeler server)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from labeler.errors import InvalidOption, KeyMissing, LabelerError
from labeler.settings import Corner, Limits, VisibleLabelOptions

ENV_TOKEN = "LABELER_TOKEN"
ENV_TOKEN_HASHES = "LABELER_TOKEN_HASHES"
_DEFAULT_LIMITS = Limits()


def add_client_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("remote (a labeler server does the work)")
    group.add_argument("--server", metavar="HOST:PORT", help="send the work to a labeler server (gRPC)")
    group.add_argument("--token", help=f"bearer token for --server (default: ${ENV_TOKEN})")
    group.add_argument("--server-ca", type=Path, help="PEM CA bundle of the server's certificate (turns on TLS)")
    group.add_argument("--client-cert", type=Path, help="PEM client certificate for mutual TLS")
    group.add_argument("--client-key", type=Path, help="PEM private key of --client-cert")
    group.add_argument("--timeout", type=float, default=120.0, help="per-call deadline in seconds (default 120)")


def add_service_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    serve = sub.add_parser("serve", parents=[common], help="run the gRPC service (Label, Verify, Propagate)")
    serve.add_argument("--address", default="127.0.0.1:50051", help="HOST:PORT to listen on")
    serve.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="calls processed at once")
    serve.add_argument("--queue-depth", type=int, default=8, help="calls allowed to wait before RESOURCE_EXHAUSTED")
    serve.add_argument("--token-hash", action="append", default=[], metavar="SHA256HEX",
                       help=f"accept bearer tokens with this SHA-256 (repeatable; also ${ENV_TOKEN_HASHES}, "
                       "comma-separated; see `labeler keys hash-token`); none: no authentication")
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate chain of the server (turns on TLS)")
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    serve.add_argument("--tls-client-ca", type=Path, help="PEM CA bundle for client certificates (mutual TLS)")
    serve.add_argument("--max-bytes", type=int, default=_DEFAULT_LIMITS.max_bytes, help="largest upload")
    serve.add_argument("--max-pixels", type=int, default=_DEFAULT_LIMITS.max_pixels, help="largest image")
    serve.add_argument("--spool-dir", type=Path, help="where uploads beyond 8 MiB are spooled (default: temp dir)")
    serve.add_argument("--metrics-port", type=int, help="serve Prometheus metrics over HTTP on this port")
    serve.add_argument("--grace", type=float, default=10.0, help="seconds in-flight calls get on shutdown")

    prop = sub.add_parser("propagate", parents=[common],
                          help="a platform's upload step: verify, add propagator fields and the explicit label")
    prop.add_argument("input", type=Path)
    prop.add_argument("output", type=Path)
    prop.add_argument("--propagator", required=True, help="ContentPropagator (the platform's name or code)")
    prop.add_argument("--propagate-id", help="PropagateID (default: a new unique ID)")
    prop.add_argument("--declared", action="store_true", help="the uploader declared the content AI-generated")
    prop.add_argument("--position", default=Corner.BOTTOM_RIGHT.value, choices=[c.value for c in Corner])
    prop.add_argument("--force", action="store_true", help="replace the output if it exists")
    add_client_options(prop)


def client_for(args: argparse.Namespace) -> Any:
    from labeler.client import LabelerClient, TlsClientSettings

    tls = None
    if args.server_ca or args.client_cert:
        tls = TlsClientSettings(root_certificates=args.server_ca, cert_chain=args.client_cert,
                                private_key=args.client_key)
    token = args.token or os.environ.get(ENV_TOKEN) or None
    return LabelerClient(args.server, token=token, tls=tls, timeout=args.timeout)


def _corner_enum(value: str) -> Any:
    from labeler.v1 import labeler_pb2 as pb

    return pb.Corner.Value("CORNER_" + Corner.parse(value).name)


def remote_label(args: argparse.Namespace, out: TextIO) -> int:
    from labeler.fileio import check_input, check_output
    from labeler.v1 import labeler_pb2 as pb

    if args.c2pa or args.font or args.label_value != "1" or args.strength != 1.0 or args.label_height != 0.05:
        raise InvalidOption("--c2pa, --font, --label-value, --strength and --label-height are server-side "
                            "settings; they cannot be sent with --server")
    check_output(args.output, args.force)
    config = pb.LabelConfig(
        content_producer=args.producer, produce_id=args.produce_id or "", no_visible=args.no_visible,
        no_metadata=args.no_metadata, no_watermark=args.no_watermark, label_text=args.label_text,
        position=_corner_enum(args.position), filename=args.input.name,
    )
    if args.watermark_id is not None:
        config.watermark_id = args.watermark_id
    check_input(args.input)
    with client_for(args) as client:  # streamed from and to disk: a video is never held whole
        result = client.label_file(args.input, args.output, config)
    info = json.loads(result.result_json)
    info.update(input=str(args.input), output=str(args.output), recorded=result.recorded, server=args.server)
    if args.json:
        out.write(json.dumps(info, ensure_ascii=False, indent=2) + "\n")
    else:
        wid = result.watermark_id or "none"
        out.write(f"labeled {args.input} -> {args.output} via {args.server} ({result.format.upper()} "
                  f"{result.width}x{result.height}; ProduceID {result.produce_id}; "
                  f"watermark {wid}; {'recorded' if result.recorded else 'not recorded'} by the server)\n")
    return 0


def remote_reports(args: argparse.Namespace, files: list[Path]) -> list[dict[str, Any]]:
    """One report dict per file (the server's `report_json`), or an error entry, like the local path."""
    from labeler.fileio import check_input

    results: list[dict[str, Any]] = []
    with client_for(args) as client:
        for path in files:
            try:
                check_input(path)
                reply = client.verify(path, user_declared=args.declared, filename=path.name)
                report = json.loads(reply.report_json)
                report["source"] = str(path)
                results.append(report)
            except LabelerError as exc:
                results.append({"source": str(path), "error": {"code": exc.code, "message": exc.message}})
    return results


def remote_verify(
    args: argparse.Namespace, files: list[Path], out: TextIO, err: TextIO,
    human_report: Callable[[dict[str, Any], TextIO], None],
) -> int:
    """`labeler verify --server`: same output and exit statuses as a local run (0 / 1 unlabelled / 2 errors)."""
    if not files:
        raise InvalidOption("no files to verify")
    results = remote_reports(args, files)
    errors = unlabelled = 0
    for entry in results:
        if "error" in entry:
            errors += 1
            if not args.json:
                err.write(f"{entry['source']}: ERROR {entry['error']['code']}: {entry['error']['message']}\n")
            continue
        unlabelled += entry["verdict"] == "none"
        if not args.json:
            human_report(entry, out)
    status = 2 if errors else (1 if unlabelled else 0)
    if args.json:
        summary = {"files": len(files), "errors": errors, "unlabelled": unlabelled, "exit_status": status}
        out.write(json.dumps({"results": results, "summary": summary}, ensure_ascii=False, indent=2) + "\n")
    return status


def cmd_propagate(args: argparse.Namespace, out: TextIO) -> int:
    from labeler.fileio import check_input, check_output, read_input, write_output

    check_output(args.output, args.force)
    if args.server:
        from labeler.v1 import labeler_pb2 as pb

        check_input(args.input)
        config = pb.PropagateConfig(content_propagator=args.propagator, propagate_id=args.propagate_id or "",
                                    user_declared=args.declared, position=_corner_enum(args.position),
                                    filename=args.input.name)
        with client_for(args) as client:  # streamed from and to disk, like label
            result = client.propagate_file(args.input, args.output, config)
        verdict = pb.Verdict.Name(result.verdict).removeprefix("VERDICT_").lower()
        _print_propagation(args, out, verdict, result.reason, result.label_text, result.aigc_json)
        return 0
    from labeler.cli import _registry
    from labeler.keyfile import resolve_key
    from labeler.propagate import PropagateOptions, propagate_bytes
    from labeler.verification import Verifier
    from labeler.video.labeling import is_video_file
    from labeler.video.propagating import propagate_video_file

    key = None
    with contextlib.suppress(KeyMissing):
        key = resolve_key(args.key_file)
    options = PropagateOptions(args.propagator, args.propagate_id, args.declared,
                               VisibleLabelOptions(position=Corner.parse(args.position)))
    if is_video_file(args.input):  # verified and re-encoded from its path, streamed (never read whole)
        with _registry(args) as registry:
            video = propagate_video_file(args.input, args.output, key, registry, options, force=args.force)
        _print_propagation(args, out, video.verdict.value, video.report["reason"], video.label_text or "",
                           video.aigc.to_json() if video.aigc else "")
        return 0
    data = read_input(args.input, _DEFAULT_LIMITS)
    with _registry(args) as registry:
        outcome = propagate_bytes(data, Verifier(key, registry), options)
    write_output(args.output, outcome.data, args.force)
    _print_propagation(args, out, outcome.verdict.value, outcome.report.reason, outcome.label_text or "",
                       outcome.aigc.to_json() if outcome.aigc else "")
    return 0


def _print_propagation(args: argparse.Namespace, out: TextIO, verdict: str, reason: str, label_text: str,
                       aigc: str) -> None:
    if args.json:
        out.write(json.dumps({"input": str(args.input), "output": str(args.output), "verdict": verdict,
                              "reason": reason, "label_text": label_text or None,
                              "aigc": json.loads(aigc) if aigc else None}, ensure_ascii=False, indent=2) + "\n")
    else:
        drawn = f'explicit label "{label_text}"' if label_text else "no label needed (media copied unchanged)"
        out.write(f"{args.input} -> {args.output}: {verdict.upper()} ({reason}); {drawn}\n")
        if aigc:
            out.write(f"  metadata   {aigc}\n")


def cmd_serve(args: argparse.Namespace, err: TextIO) -> int:
    from labeler.cli import _registry
    from labeler.keyfile import resolve_key
    from labeler.pipeline import Labeler
    from labeler.service.server import serve_forever
    from labeler.service.settings import ServiceSettings, TlsSettings
    from labeler.verification import Verifier

    hashes = [h.strip().lower() for h in args.token_hash]
    hashes += [h.strip().lower() for h in os.environ.get(ENV_TOKEN_HASHES, "").split(",") if h.strip()]
    tls = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            raise InvalidOption("TLS needs both --tls-cert and --tls-key")
        tls = TlsSettings(args.tls_cert, args.tls_key, args.tls_client_ca)
    elif args.tls_client_ca:
        raise InvalidOption("--tls-client-ca needs --tls-cert and --tls-key")
    limits = Limits(max_bytes=args.max_bytes, max_pixels=args.max_pixels)
    settings = ServiceSettings(
        address=args.address, workers=args.workers, queue_depth=args.queue_depth, token_hashes=tuple(hashes),
        tls=tls, limits=limits, spool_dir=args.spool_dir, metrics_port=args.metrics_port,
        shutdown_grace_seconds=args.grace,
    )
    key = resolve_key(args.key_file)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=err)
    if not hashes:
        err.write("labeler: note: no --token-hash given: the service accepts unauthenticated calls\n")
    with _registry(args) as registry:
        asyncio.run(serve_forever(settings, Labeler(key, registry, limits), Verifier(key, registry, limits)))
    return 0


def cmd_hash_token(out: TextIO) -> int:
    from labeler.service.settings import hash_token

    token = sys.stdin.readline().strip()
    if not token:
        raise InvalidOption("give the token on standard input (kept out of shell history and process lists)")
    out.write(hash_token(token) + "\n")
    return 0
