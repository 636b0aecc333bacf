"""The ``labeler`` command.

Exit status: 0 success (for ``verify``: every file carries a label), 1 ``verify`` found files without
any label, 2 errors (bad input, bad options, unwritable output; each printed as ``CODE: message``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from labeler import __version__, cli_service
from labeler.errors import InvalidOption, KeyMissing, LabelerError, OutputExists
from labeler.keyfile import default_key_path, init_key_file, resolve_key
from labeler.orientation import Orientation
from labeler.settings import Corner, LabelOptions, VisibleLabelOptions
from labeler.store.registry import Registry, default_registry_path

EXIT_OK, EXIT_UNLABELLED, EXIT_ERROR = 0, 1, 2
MEDIA_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus",
                  ".mp4", ".mov", ".webm", ".mkv")


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad options in labeler's error format and exit status."""

    def error(self, message: str) -> Any:
        raise InvalidOption(message)


def _hex_id(text: str) -> int:
    try:
        value = int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a hexadecimal watermark id: {text!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError("a watermark id has at most 16 hex digits")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="labeler", description="Label AI-generated media (GB 45438-2025) and verify labels.")
    parser.add_argument("--version", action="version", version=f"labeler {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("--key-file", type=Path, help="watermark key file (default: $LABELER_KEY, "
                        f"$LABELER_KEY_FILE, then {default_key_path()})")
    common.add_argument("--registry", type=Path, help=f"SQLite registry file (default: {default_registry_path()})")
    common.add_argument("--no-registry", action="store_true", help="do not record or look up labelings")
    common.add_argument("--db", help="registry: a SQLite file or a postgresql:// DSN (overrides --registry; "
                        "default: $LABELER_DB, then the SQLite file)")
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    common.add_argument("--trust-anchors", type=Path, help="PEM bundle of C2PA trust anchors (root certificates)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    lab = sub.add_parser("label", parents=[common], help="label one image into a new file")
    lab.add_argument("input", type=Path)
    lab.add_argument("output", type=Path)
    lab.add_argument("--force", action="store_true", help="replace the output if it exists")
    lab.add_argument("--producer", default="labeler", help="ContentProducer (service name or TC260 code)")
    lab.add_argument("--produce-id", help="ProduceID (default: a new unique ID)")
    lab.add_argument("--label-value", default="1", choices=("1", "2", "3"), help="AIGC Label value")
    lab.add_argument("--no-visible", action="store_true", help="no visible text label")
    lab.add_argument("--no-metadata", action="store_true", help="no AIGC metadata label")
    lab.add_argument("--no-watermark", action="store_true", help="no invisible watermark")
    lab.add_argument("--label-text", default="AI生成", help="visible text (default: AI生成)")
    lab.add_argument("--position", default=Corner.BOTTOM_RIGHT.value, choices=[c.value for c in Corner])
    lab.add_argument("--label-height", type=float, default=0.05,
                     help="text height as a fraction of the short side (≥ 0.05)")
    lab.add_argument("--font", type=Path, help="TTF/OTF font for the visible label")
    lab.add_argument("--watermark-id", type=_hex_id, help="64-bit watermark ID in hex (default: derived "
                     "from producer and ProduceID)")
    lab.add_argument("--strength", type=float, default=1.0, help="watermark strength multiplier (0.25–4)")
    lab.add_argument("--prompt", default="morse", help="audio's audible label: morse (the \"AI\" rhythm "
                     "prompt), voice:PATH (a voice recording), none")
    lab.add_argument("--prompt-end", action="store_true", help="audio: repeat the prompt at the end")
    lab.add_argument("--c2pa", action="store_true", help="sign C2PA Content Credentials into the output (last step)")
    lab.add_argument("--c2pa-cert", type=Path, help="PEM certificate chain, end-entity first (default: the dev "
                     "chain made by `labeler keys init`)")
    lab.add_argument("--c2pa-key", type=Path, help="PEM private key of --c2pa-cert (default: the dev key)")
    lab.add_argument("--c2pa-alg", default="es256", help="C2PA signing algorithm (es256, ps256, ed25519, ...)")
    lab.add_argument("--tsa-url", help="RFC 3161 time-stamp authority URL for the C2PA signature")
    lab.add_argument("--label-key", type=Path, help="Ed25519 key that signs the AIGC label (SecurityData in "
                     "ReservedCode1; default: aigc-signing.key beside the watermark key, when it exists)")
    lab.add_argument("--no-sign-label", action="store_true", help="leave ReservedCode1 empty")
    cli_service.add_client_options(lab)
    lab.add_argument("--video-label-seconds", type=float, default=2.0, help="video: label the opening N s (≥ 2)")
    lab.add_argument("--video-label-whole", action="store_true", help="video: label every frame")
    lab.add_argument("--video-label-end", action="store_true",
                     help="video: label the closing N s too (N from --video-label-seconds)")
    lab.add_argument("--crf", type=float,
                     help="video: encoder CRF (default: the input's own x264/x265 settings when it records them, "
                          "else the CRF that spends the input's bits on its opening second)")
    lab.add_argument("--bitrate", type=int, help="video: target bitrate in bit/s instead of CRF")

    ver = sub.add_parser("verify", parents=[common], help="verify files and report their labels")
    ver.add_argument("paths", nargs="+", type=Path, help="files, or folders (their images)")
    ver.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    ver.add_argument("--declared", action="store_true", help="the uploader declared the content AI-generated")
    ver.add_argument("--trust-label-key", type=Path, action="append", default=[],
                     help="an Ed25519 key (PEM) whose AIGC label signatures are trusted (repeatable; the "
                     "configured aigc-signing.key is always trusted)")
    from labeler.report.cli import add_audit_arguments

    add_audit_arguments(ver)
    cli_service.add_client_options(ver)
    cli_service.add_service_commands(sub, common)

    keys = sub.add_parser("keys", help="manage the watermark key")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, parser_class=_Parser)
    init = keys_sub.add_parser("init", help="create a new random key, a dev C2PA CA + signer certificate and an "
                               "AIGC label signing key (development or first setup)")
    init.add_argument("--path", type=Path, default=None, help=f"where (default: {default_key_path()})")
    init.add_argument("--force", action="store_true", help="replace an existing key")
    show = keys_sub.add_parser("show", help="print the configured key's public ID")
    show.add_argument("--key-file", type=Path)
    keys_sub.add_parser("hash-token", help="print the SHA-256 of a bearer token read from standard input "
                        "(for `labeler serve --token-hash`)")
    from labeler.store.cli import add_registry_parser

    add_registry_parser(sub, common)
    from labeler.batch.cli import add_batch_parser

    add_batch_parser(sub, common)
    return parser


@contextlib.contextmanager
def _registry(args: argparse.Namespace) -> Iterator[Registry | None]:
    if args.no_registry:
        yield None
        return
    from labeler.store.cli import registry_location

    registry = Registry.open(registry_location(args))
    try:
        yield registry
    finally:
        registry.close()


def _label_options(args: argparse.Namespace) -> LabelOptions:
    return LabelOptions(
        producer=args.producer,
        produce_id=args.produce_id,
        label_value=args.label_value,
        visible=not args.no_visible,
        metadata=not args.no_metadata,
        watermark=not args.no_watermark,
        visible_label=VisibleLabelOptions(
            text=args.label_text, position=Corner.parse(args.position), height_ratio=args.label_height,
            font_path=args.font,
        ),
        watermark_id=args.watermark_id,
        watermark_strength=args.strength,
        audio_prompt=args.prompt,
        audio_prompt_end=args.prompt_end,
    )


def _config_dir(args: argparse.Namespace) -> Path:
    import os

    from labeler.keyfile import ENV_KEY_FILE

    key_file = getattr(args, "key_file", None) or (Path(os.environ[ENV_KEY_FILE]) if os.environ.get(ENV_KEY_FILE)
                                                   else None)
    return (key_file or default_key_path()).parent


def _manifest_dir(args: argparse.Namespace) -> Path | None:
    return None if args.no_registry else (args.registry or default_registry_path()).parent / "c2pa-manifests"


def _provenance_options(args: argparse.Namespace, options: LabelOptions) -> tuple[LabelOptions, Any]:
    """C2PA settings and the label signer from the flags (defaults: the dev credentials in the config dir)."""
    import dataclasses

    from labeler.provenance.devca import DevPaths
    from labeler.provenance.securitydata import LabelSigner
    from labeler.settings import C2paSettings

    dev = DevPaths.in_dir(_config_dir(args))
    if args.c2pa:
        c2pa = C2paSettings(
            cert_chain=args.c2pa_cert or dev.chain,
            private_key=args.c2pa_key or (dev.key if args.c2pa_cert is None else None),
            algorithm=args.c2pa_alg,
            tsa_url=args.tsa_url,
            manifest_dir=_manifest_dir(args),
        )
        options = dataclasses.replace(options, c2pa=c2pa)
    signer = None
    if options.metadata and not args.no_sign_label:
        if args.label_key is not None:
            signer = LabelSigner.from_file(args.label_key)
        elif dev.label_key.exists():
            signer = LabelSigner.from_file(dev.label_key)
    return options, signer


def cmd_label(args: argparse.Namespace, out: TextIO) -> int:
    from labeler.pipeline import Labeler

    if args.server:
        return cli_service.remote_label(args, out)
    options = _label_options(args)
    key = resolve_key(args.key_file) if options.watermark else None
    options, label_signer = _provenance_options(args, options)
    from labeler.video.labeling import is_video_file

    if is_video_file(args.input):  # video: streamed, never read into memory (labeler/video/)
        from labeler.video.cli_video import cmd_label_video

        return cmd_label_video(args, options, key, out, label_signer=label_signer)
    with _registry(args) as registry:
        labeler = Labeler(key, registry, label_signer=label_signer)
        result = labeler.label_file(args.input, args.output, options, force=args.force)
    info = result.to_dict()
    info.update(input=str(args.input), output=str(args.output), recorded=registry is not None)
    if args.json:
        out.write(json.dumps(info, ensure_ascii=False, indent=2) + "\n")
        return EXIT_OK
    if result.audio is not None:
        _human_audio_label(result.to_dict(), args, registry is not None, out)
        return EXIT_OK
    out.write(f"labeled {args.input} -> {args.output} ({result.format.upper()} {result.width}x{result.height})\n")
    vis = info["visible_label"]
    out.write("  visible label  " + (
        f"\"{vis['text']}\" {vis['corner']}, text {vis['text_height_px']} px "
        f"({vis['text_height_ratio'] * 100:.1f}% of the short side)" if vis else "off") + "\n")
    aigc = result.aigc
    out.write("  metadata       " + (
        f"AIGC Label={aigc.label} ContentProducer={aigc.content_producer} ProduceID={aigc.produce_id}"
        if aigc else "off") + "\n")
    if result.watermark_id is not None:
        out.write(f"  watermark      id {result.watermark_id:016x}\n")
    else:
        out.write(f"  watermark      {'skipped: ' + result.watermark_skipped if result.watermark_skipped else 'off'}\n")
    out.write("  registry       " + ("recorded" if registry is not None else "off") + "\n")
    out.write("  label signed   " + (f"SecurityData key {result.label_key_id}" if result.label_key_id else "no") + "\n")
    out.write("  C2PA           " + ("signed (last step)" if result.c2pa else "off") + "\n")
    return EXIT_OK


def _human_audio_label(info: dict[str, Any], args: argparse.Namespace, recorded: bool, out: TextIO) -> None:
    audio = info["audio"]
    out.write(f"labeled {args.input} -> {args.output} ({info['format'].upper()} {audio['codec']} "
              f"{audio['sample_rate']} Hz, {audio['channels']} ch, {audio['duration_s']:.1f} s)\n")
    prompt = audio["prompt"]
    out.write("  audible label  " + (f"{prompt['kind']} prompt at the start" + (" and end" if prompt["at_end"] else "")
                                     if prompt else "off") + "\n")
    aigc = info["aigc"]
    out.write("  metadata       " + (f"AIGC in {audio['aigc_location']} (ProduceID={aigc['ProduceID']})"
                                     if aigc else "off") + "\n")
    out.write("  watermark      " + (f"id {info['watermark_id']}" if info["watermark_id"] else "off") + "\n")
    out.write("  registry       " + ("recorded" if recorded else "off") + "\n")
    signed_by = f"SecurityData key {info['label_key_id']}" if info["label_key_id"] else "no"
    out.write(f"  label signed   {signed_by}\n")
    out.write("  C2PA           " + ("signed (last step)" if info["c2pa"] else "off") + "\n")


def _expand(paths: Sequence[Path], recursive: bool) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = path.rglob("*") if recursive else path.iterdir()
            files.extend(sorted(p for p in found if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES))
        else:
            files.append(path)
    return files


def _orientation_phrase(watermark: dict[str, Any]) -> str:
    """How the picture had been turned or flipped, for the verify summary ("" when upright)."""
    edit = Orientation.of_watermark(watermark).edit_description()
    return f"; the picture was {edit}" if edit else ""


def _human_report(report: dict[str, Any], out: TextIO) -> None:
    out.write(f"{report['source']}: {report['verdict'].upper()} — {report['reason']}\n")
    meta = report["metadata"]
    if meta["present"]:
        fields = meta["fields"] or {}
        shown = " ".join(f"{k}={v}" for k, v in fields.items() if v not in ("", None))
        meaning = f" ({meta['meaning']})" if meta["meaning"] else ""
        out.write(f"  metadata   {meta['location']}: {shown}{meaning}\n")
        for problem in meta["problems"]:
            out.write(f"             problem: {problem}\n")
    else:
        out.write("  metadata   no AIGC label\n")
    wm = report["watermark"]
    if "audio" in report:
        prompt = report["audio"]["prompt"]
        out.write("  prompt     " + ("\"AI\" rhythm prompt present" if prompt["present"] else "no rhythm prompt found")
                  + "\n")
    if wm["checked"] and "segments" in wm:
        if wm["detected"]:
            out.write(f"  watermark  detected id {wm['watermark_id']} in {wm['segments_detected']} of "
                      f"{len(wm['segments'])} segment(s) (false-positive probability "
                      f"{wm['false_positive_probability']:.1e}{_orientation_phrase(wm)})\n")
        else:
            out.write(f"  watermark  not detected ({wm['reason']})\n")
    elif not wm["checked"]:
        out.write(f"  watermark  not checked: {wm.get('note')}\n")
    elif wm["detected"]:
        geometry = ""
        if abs(wm["scale"] - 1.0) > 1e-9 or wm["rotation_degrees"] != 0.0:
            geometry = f"; found at scale {wm['scale']:.3f}, rotation {wm['rotation_degrees']:+.2f}°"
        geometry += _orientation_phrase(wm)
        out.write(f"  watermark  detected id {wm['watermark_id']} (score {wm['score']:.1f}, "
                  f"false-positive probability {wm['false_positive_probability']:.1e}{geometry})\n")
        firm = sum(z >= 2.0 for z in wm["bit_reliability"])
        out.write(f"             ID bits: {firm}/{len(wm['bit_reliability'])} firm (z >= 2), "
                  f"weakest z {wm['weakest_bit_z']:.1f}, offset {wm['offset']}\n")
    else:
        out.write(f"  watermark  not detected ({wm['reason']}; score {wm['score']:.1f})\n")
    for rec in report["registry"]:
        out.write(f"  registry   ProduceID {rec['produce_id']} by {rec['content_producer']} at {rec['created_at']}\n")
    sd = report.get("security_data")
    if sd and sd["status"] != "absent":
        out.write(f"  signature  {sd['status']}: {sd['reason']}\n")
    c2pa = report.get("c2pa") or {}
    if c2pa.get("present"):
        signer = f" signed by {c2pa['common_name']} ({c2pa['issuer']})" if c2pa.get("common_name") else ""
        recovered = ""
        if c2pa.get("source") != "embedded":
            recovered = "; claim signature " + ("valid" if c2pa.get("claim_signature_valid") else "INVALID")
        out.write(f"  c2pa       {c2pa['state']}{signer}, {c2pa['source']}{recovered}\n")
        for failure in c2pa["failures"]:
            out.write(f"             reason: {failure}\n")
    else:
        out.write("  c2pa       no manifest\n")
    for mark in report.get("third_party") or []:
        out.write(f"  mark       {mark['description']} in {mark['location']}\n")
    visible = report.get("explicit_label") or {}
    if visible.get("detected") and "third_party" not in report:  # videos (images list it as a mark above)
        out.write(f"  visible    AI label \"{visible['text']}\" in the {visible['corner']} corner (score "
                  f"{visible['score']:.2f}, false-positive probability {visible['false_positive_probability']:.1e})\n")
    sound = report.get("soundtrack")
    if sound:  # videos with a soundtrack
        sound_wm = sound["watermark"]
        mark = (f"audio watermark {sound_wm['watermark_id']} (false-positive probability "
                f"{sound_wm['false_positive_probability']:.1e})" if sound_wm.get("detected") else "no audio watermark")
        prompt = "\"AI\" rhythm prompt at the start" if sound["prompt"]["at_start"] else "no rhythm prompt"
        out.write(f"  soundtrack {sound['duration_s']:.1f} s: {prompt}; {mark}\n")


def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from labeler.verification import Verifier
    from labeler.video.labeling import is_video_file
    from labeler.video.verifying import verify_video_file

    if args.server:
        return cli_service.remote_verify(args, _expand(args.paths, args.recursive), out, err, _human_report)
    key = None
    with contextlib.suppress(KeyMissing):
        key = resolve_key(args.key_file)
    if key is None and not args.json:
        err.write("labeler: note: no watermark key configured; checking metadata only\n")
    files = _expand(args.paths, args.recursive)
    if not files:
        raise InvalidOption("no files to verify")
    results: list[dict[str, Any]] = []
    errors = unlabelled = 0
    from labeler.provenance.devca import LABEL_KEY_FILE
    from labeler.settings import TrustSettings

    own_label_key = _config_dir(args) / LABEL_KEY_FILE
    label_keys = tuple(args.trust_label_key) + ((own_label_key,) if own_label_key.exists() else ())
    trust = TrustSettings(
        c2pa_trust_anchors=args.trust_anchors, label_keys=label_keys, manifest_dir=_manifest_dir(args)
    )
    from labeler.report.cli import audit_requested, cmd_audit

    if audit_requested(args):
        from labeler.store.cli import registry_location

        location = None if args.no_registry else registry_location(args)
        return cmd_audit(args, files, key, trust, location, out, err, _human_report)
    with _registry(args) as registry:
        verifier = Verifier(key, registry, trust=trust)
        for path in files:
            try:
                if is_video_file(path):  # streamed from the path, never read whole
                    report = verify_video_file(path, key, registry, args.declared, trust)
                else:
                    report = verifier.verify_file(path, user_declared=args.declared).to_dict()
            except LabelerError as exc:
                errors += 1
                entry = {"source": str(path), "error": {"code": exc.code, "message": exc.message}}
                results.append(entry)
                if not args.json:
                    err.write(f"{path}: ERROR {exc.code}: {exc.message}\n")
                continue
            unlabelled += report["verdict"] == "none"
            results.append(report)
            if not args.json:
                _human_report(report, out)
    status = EXIT_ERROR if errors else (EXIT_UNLABELLED if unlabelled else EXIT_OK)
    if args.json:
        summary = {"files": len(files), "errors": errors, "unlabelled": unlabelled, "exit_status": status}
        out.write(json.dumps({"results": results, "summary": summary}, ensure_ascii=False, indent=2) + "\n")
    return status


def cmd_batch(args: argparse.Namespace, out: TextIO) -> int:
    from labeler.batch.cli import cmd_batch as run_batch
    from labeler.provenance.devca import LABEL_KEY_FILE
    from labeler.settings import TrustSettings

    key = None
    with contextlib.suppress(KeyMissing):
        key = resolve_key(args.key_file)
    own_label_key = _config_dir(args) / LABEL_KEY_FILE
    trust = TrustSettings(c2pa_trust_anchors=args.trust_anchors,
                          label_keys=(own_label_key,) if own_label_key.exists() else (),
                          manifest_dir=_manifest_dir(args))
    return run_batch(args, _expand([args.src], recursive=True), key, trust, out)


def cmd_keys(args: argparse.Namespace, out: TextIO) -> int:
    if args.keys_command == "init":
        path = args.path or default_key_path()
        from labeler.provenance.devca import DevPaths, init_dev_credentials

        dev_paths = DevPaths.in_dir(path.parent)
        existing = [p for p in (dev_paths.ca, dev_paths.chain, dev_paths.key, dev_paths.label_key) if p.exists()]
        if existing and not args.force:  # checked first, so a refusal leaves nothing half-created
            raise OutputExists(f"{existing[0]} exists; pass --force to replace the keys and credentials")
        key = init_key_file(path, force=args.force)
        out.write(f"created watermark key {key.key_id} at {path} (keep it secret; back it up)\n")
        dev = init_dev_credentials(path.parent, force=args.force)
        out.write(f"created development C2PA CA {dev.ca} and signer {dev.chain} + {dev.key} (development only: "
                  "production signers need a certificate from a CA on the C2PA trust list)\n")
        out.write(f"created AIGC label signing key {dev.label_key}\n")
    else:
        key = resolve_key(args.key_file)
        out.write(f"{key.key_id}\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        if args.command == "label":
            return cmd_label(args, out)
        if args.command == "verify":
            return cmd_verify(args, out, err)
        if args.command == "serve":
            return cli_service.cmd_serve(args, err)
        if args.command == "propagate":
            return cli_service.cmd_propagate(args, out)
        if args.command == "keys" and args.keys_command == "hash-token":
            return cli_service.cmd_hash_token(out)
        if args.command == "batch":
            return cmd_batch(args, out)
        if args.command == "registry":
            from labeler.store.cli import cmd_registry

            return cmd_registry(args, out)
        return cmd_keys(args, out)
    except LabelerError as exc:
        err.write(f"labeler: {exc.code}: {exc.message}\n")
        return exc.exit_status
    except KeyboardInterrupt:
        err.write("labeler: interrupted\n")
        return 130
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
