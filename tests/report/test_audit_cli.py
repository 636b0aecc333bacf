"""``labeler verify DIR --recursive`` in auditor mode: workers, resume, progress and the three reports,
with the HTML report loaded in a real headless Chromium."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.test_cli import run


@pytest.fixture
def corpus(make_image: Callable[..., Path], key_file: Path, registry_path: Path, tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    (root / "sub").mkdir(parents=True)
    opts = ["--key-file", str(key_file), "--registry", str(registry_path)]
    for i in range(3):
        assert run("label", make_image("jpeg", seed=10 + i), root / "sub" / f"labelled-{i}.jpg", *opts)[0] == 0
    shutil.copy(make_image("png", seed=20, name="plain.png"), root / "plain.png")
    (root / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 50)
    return root


def test_reports_workers_and_resume(corpus: Path, key_file: Path, registry_path: Path, tmp_path: Path) -> None:
    opts = ["--key-file", str(key_file), "--registry", str(registry_path)]
    reports = tmp_path / "reports"
    journal = tmp_path / "journal.jsonl"
    status, out, err = run("verify", corpus, "--recursive", "--workers", "2", "--resume", journal, "--progress",
                           "--report-jsonl", reports / "r.jsonl", "--report-csv", reports / "r.csv",
                           "--report-html", reports / "r.html", *opts)
    assert status == 2, err  # one broken file
    assert "5/5" in err and "summary:" in out
    lines = [json.loads(x) for x in (reports / "r.jsonl").read_text().splitlines()]
    verdicts = {Path(e["source"]).name: ("error" if "error" in e else e["verdict"]) for e in lines}
    assert verdicts == {"labelled-0.jpg": "confirmed", "labelled-1.jpg": "confirmed", "labelled-2.jpg": "confirmed",
                        "plain.png": "none", "broken.jpg": "error"}
    with (reports / "r.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["verdict"] for r in rows) == ["confirmed"] * 3 + ["error", "none"]
    assert len(journal.read_text().splitlines()) == 5

    # Resume: a finished journal means nothing is verified again (the entries come from the journal).
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2])  # torn last line
    status, out, err = run("verify", corpus, "-r", "--resume", journal, "--json",
                           "--report-jsonl", reports / "again.jsonl", *opts)
    summary = json.loads(out)["summary"]
    assert summary["files"] == 5 and summary["by_verdict"]["confirmed"] == 3
    assert len([x for x in journal.read_text().splitlines() if x.strip()]) == 3 + 3  # 2 kept, torn, 3 new


def test_bad_workers_is_invalid_option(corpus: Path, key_file: Path) -> None:
    status, _, err = run("verify", corpus, "-r", "--workers", "0", "--key-file", key_file, "--no-registry")
    assert status == 2 and "INVALID_OPTION" in err


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_html_report_renders_in_headless_chromium(corpus: Path, key_file: Path, registry_path: Path,
                                                  tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (CI=1: .ci/run installs it)")
        pytest.skip("!!! SKIPPING BROWSER CHECK: chromium is not installed")
    report = tmp_path / "r.html"
    run("verify", corpus, "-r", "--report-html", report, "--key-file", key_file, "--registry", registry_path)
    html = report.read_text()
    assert "http://" not in html and "https://" not in html  # self-contained
    # The check script is added to a copy: the report itself carries no script.
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", """<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var out = document.createElement('div');
  out.id = 'probe'; out.textContent = 'loaded=' + ok + ' total=' + imgs.length
    + ' heat=' + document.querySelectorAll('img.heatmap').length
    + ' rows=' + document.querySelectorAll('#files tr').length;
  document.body.appendChild(out);
});
</script></body>"""))
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    # 4 decodable images: a thumbnail + a heat map each (the broken file has neither).
    assert 'id="probe">loaded=8 total=8 heat=4 rows=6<' in done.stdout, done.stdout[-3000:]


def test_audit_takes_video_and_audio_with_per_second_plots(key_file: Path, registry_path: Path,
                                                           tmp_path: Path) -> None:
    from labeler.demo_media import encode_audio, music_sample
    from tests.video.clips import make_clip

    root = tmp_path / "media"
    root.mkdir()
    opts = ["--key-file", str(key_file), "--registry", str(registry_path)]
    clip = make_clip(tmp_path / "clip.mp4", frames=250, music=True)  # 10 s: the audio mark needs them
    assert run("label", clip, root / "clip.mp4", "--produce-id", "audit-clip", *opts)[0] == 0
    (tmp_path / "song.wav").write_bytes(encode_audio(music_sample(6.0), "wav", "pcm_s16le"))
    assert run("label", tmp_path / "song.wav", root / "song.wav", "--produce-id", "audit-song", *opts)[0] == 0
    shutil.copy(clip, root / "plain.mp4")
    reports = tmp_path / "reports"
    status, _, err = run("verify", root, "-r", "--workers", "2", "--report-jsonl", reports / "r.jsonl",
                           "--report-html", reports / "r.html", *opts)
    assert status == 1, err  # plain.mp4 carries no label
    entries = {Path(e["source"]).name: e for e in map(json.loads, (reports / "r.jsonl").read_text().splitlines())}
    assert {name: e.get("verdict") for name, e in entries.items()} == {
        "clip.mp4": "confirmed", "song.wav": "confirmed", "plain.mp4": "none"}
    video = entries["clip.mp4"]
    assert video["watermark"]["segments_detected"] >= 8 and video["soundtrack"]["watermark"]["detected"]
    assert "thumbnail" not in video  # pictures go to the HTML only
    page = (reports / "r.html").read_text()
    assert page.count('alt="thumbnail"') == 2 and page.count('alt="visible label region"') == 1  # the labeled clip
    # picture + soundtrack plots for each video, one plot for the song
    assert page.count('<svg class="segments"') == 5
    assert 'aria-label="picture watermark per second: mark found in 10 of 10 segments"' in page


def test_worker_processes_are_not_forked_from_the_caller() -> None:
    # A forked worker inherits the locks other threads of the caller hold at that moment and can wait on
    # one forever (a batch label run after the gRPC tests hung in PIL's JPEG reader that way). Workers
    # come from a fork server: a fresh single-threaded process.
    from labeler.report.audit import worker_context

    assert worker_context().get_start_method() == "forkserver"
