"""HTML viewer pages (:mod:`hdrsyn.viewer`): their data, and their behaviour in a real headless Chromium
driven over the DevTools protocol (skipped where no ``chromium`` is installed; ``.ci/run`` installs it)."""

from __future__ import annotations

import base64
import contextlib
import csv
import fcntl
import io
import json
import os
import re
import select
import shutil
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hdrsyn.io import write_hdr
from hdrsyn.viewer import (
    Panel,
    comparison_page,
    fit,
    photo_page,
    response_svg,
    rgbe_planes,
    write_comparison_page,
    write_photo_page,
)

CHROMIUM = next((path for name in ("chromium", "chromium-browser", "google-chrome")
                 if (path := shutil.which(name))), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")


@pytest.fixture(scope="module")
def radiance() -> np.ndarray:
    """A 40x60 scene: a horizontal ramp over 16 stops (so every exposure shows a different part)."""
    y, x = np.mgrid[0:40, 0:60].astype(np.float32)
    lum = np.exp2(x / 59 * 16 - 10)
    return (lum[..., None] * np.stack([1 + 0.4 * np.sin(y / 5), np.ones_like(y), 1 - 0.4 * np.sin(y / 5)], -1)
            ).astype(np.float32)


def page_data(text: str) -> dict:
    """The JSON a page's script holds."""
    return json.loads(re.search(r"^const DATA = (.*);$", text, re.MULTILINE).group(1))


def decode_rgbe(entry: dict) -> np.ndarray:
    """What the page's ``decodeHDR`` computes, in NumPy: ``(H, W, 3)`` radiance."""
    planes = np.frombuffer(zlib.decompress(base64.b64decode(entry["rgbe"])), np.uint8)
    planes = planes.reshape(4, entry["height"], entry["width"]).astype(np.float64)
    scale = np.where(planes[3] > 0, np.exp2(planes[3] - 136), 0.0)
    return np.moveaxis((planes[:3] + 0.5) * scale, 0, -1)


def assert_rgbe_close(decoded: np.ndarray, expected: np.ndarray) -> None:
    """RGBE's precision: within 1/128 of each pixel's brightest channel."""
    assert np.all(np.abs(decoded - expected) <= expected.max(axis=-1, keepdims=True) / 128 + 1e-30)


def test_rgbe_keeps_every_value_to_a_percent(radiance: np.ndarray) -> None:
    values = np.concatenate([radiance.reshape(-1, 3), [[1e6, 3e5, 2.0], [0.0, 0.0, 0.0], [-1.0, np.nan, 0.5]]])
    decoded = decode_rgbe({"rgbe": base64.b64encode(zlib.compress(rgbe_planes(values[:, None]))),
                           "width": 1, "height": len(values)})[:, 0]
    assert_rgbe_close(decoded, np.nan_to_num(np.maximum(values, 0)))


def test_photo_page_data(radiance: np.ndarray) -> None:
    stack = [np.full((40, 60, 3), level, np.uint8) for level in (20, 120, 240)]
    text = photo_page(radiance, "scene <1>", stack=stack, evs=(-1, 0, 1),
                      inverse_crf=np.tile(np.linspace(0, 1, 64), (3, 1)), max_side=30)
    assert "<title>scene &lt;1&gt;</title>" in text and "<1>" not in text.split("const DATA")[1]
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # nothing to fetch
    data = page_data(text)
    image = data["photo"]["image"]
    assert (image["width"], image["height"]) == (30, 20)
    small = fit(radiance, 30)
    assert_rgbe_close(decode_rgbe(image), small)
    assert [item["label"] for item in data["stack"]] == ["EV -1", "EV +0", "EV +1"]
    assert all(item["src"].startswith("data:image/jpeg;base64,") for item in data["stack"])
    assert data["response"].count("<polyline") == 3
    with pytest.raises(ValueError, match="3 stack images for 2 EVs"):
        photo_page(radiance, "x", stack=stack, evs=(0, 1))


def test_response_svg_spans_the_curves() -> None:
    curves = np.stack([np.exp2(np.linspace(-9, 0, 256))] * 3)
    curves[:, 0] = 0.0  # level 0 is often 0: drawn at the left edge, not stretching the axis to 1e-12
    svg = response_svg(curves)
    assert ">-9</text>" in svg and ">0</text>" in svg and ">-40</text>" not in svg
    with pytest.raises(ValueError, match=r"\(3, levels\)"):
        response_svg(curves[:2])


def fake_run(folder: Path, method: str, scenes: dict[str, np.ndarray], psnr: dict[str, float]) -> dict:
    """A ``lightning test`` output folder, and its row as :func:`hdrsyn.comparison.load_rows` returns it."""
    for name, image in scenes.items():
        write_hdr(folder / "hdr" / f"{name}.exr", image)
    with (folder / "metrics_per_image.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["method", "name", "pu21_psnr", "pu21_ssim"])
        writer.writerows([method, name, value, 0.9] for name, value in psnr.items())
    return {"run": folder.name, "method": method, "num_images": len(scenes), "folder": folder,
            "metrics": {"pu21_psnr": float(np.mean(list(psnr.values()))), "pu21_psnr_std": 1.5}}


@pytest.fixture()
def comparison_html(tmp_path: Path, radiance: np.ndarray) -> Path:
    rows = [fake_run(tmp_path / "ours", "DiffHDRsyn", {"a": radiance, "b": radiance * 4}, {"a": 31.0, "b": 29.25}),
            fake_run(tmp_path / "base", "ExpandNet", {"b": radiance[::-1]}, {"b": 27.5})]
    path = tmp_path / "comparison.html"
    write_comparison_page(path, rows, table_keys=("pu21_psnr", "cvvdp"), panel_keys=("pu21_psnr", "pu21_ssim"))
    return path


def test_comparison_page_data(comparison_html: Path, radiance: np.ndarray) -> None:
    data = page_data(comparison_html.read_text())
    assert data["columns"] == ["ours", "base"]
    assert data["table"] == {"header": ["run", "method", "images", "pu21_psnr"],
                             "rows": [["ours", "DiffHDRsyn", "2", "30.12 ± 1.50"],
                                      ["base", "ExpandNet", "1", "27.50 ± 1.50"]]}
    (a, panels_a), (b, panels_b) = [(scene["name"], scene["panels"]) for scene in data["scenes"]]
    assert (a, b) == ("a", "b") and panels_a[1] is None  # the baseline has no scene "a"
    assert panels_b[0]["scores"] == [["pu21_psnr", "29.25"], ["pu21_ssim", "0.900"]]
    assert_rgbe_close(decode_rgbe(panels_b[1]["image"]), radiance[::-1].astype(np.float16))  # .exr: half
    assert "Showing 2 of 2 scenes" in data["notes"]
    with pytest.raises(ValueError, match="one panel"):
        comparison_page("t", ["x", "y"], [("s", [Panel("x", radiance)])])


class Chromium:
    """Headless Chromium over the DevTools protocol on a pipe (``--remote-debugging-pipe``: commands on
    its fd 3, replies and events on its fd 4, JSON messages ending in NUL), with one page attached."""

    def __init__(self, profile: Path) -> None:
        commands, self._to_browser = self._high(os.pipe())
        self._from_browser, replies = self._high(os.pipe())

        def pipes_as_3_and_4() -> None:
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run",
             "--hide-scrollbars", "--disable-dev-shm-usage", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False, preexec_fn=pipes_as_3_and_4)
        os.close(commands)
        os.close(replies)
        self._buffer, self._next_id, self.events = b"", 0, []
        try:
            target = self.send("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable", session=True)
            self.send("Emulation.setDeviceMetricsOverride", session=True, width=1000, height=800,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _high(fds: tuple[int, int]) -> tuple[int, int]:
        """The pipe's ends moved to numbers >= 10, clear of 3 and 4 (non-inheritable)."""
        moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
        for fd in fds:
            os.close(fd)
        return moved

    def send(self, method: str, session: bool = False, timeout: float = 30.0, **params) -> dict:
        """Run one command and return its result; events seen meanwhile go to :attr:`events`."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self._from_browser, 1 << 20) if ready else b""
            if not chunk:
                raise TimeoutError("Chromium did not answer")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def evaluate(self, expression: str) -> object:
        result = self.send("Runtime.evaluate", session=True, expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, timeout: float = 30.0) -> str:
        """Navigate to ``url`` and wait until the page leaves ``data-state="loading"``; returns the state."""
        self.send("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + timeout
        while (state := self.evaluate("document.body && document.body.dataset.state")) in (None, "loading"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} still loading after {timeout} s")
            time.sleep(0.1)
        return state

    def screenshot(self, path: Path) -> np.ndarray:
        """Save a PNG of the viewport to ``path`` and return its pixels."""
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", session=True, format="png")["data"]))
        return np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"), np.float32)

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, log errors, and requests other than file:/data:."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning", "assert"):
                found.append(f"console.{params['type']}: {[a.get('value') for a in params['args']]}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"log {params['entry']['level']}: {params['entry']['text']}")
            elif method == "Network.requestWillBeSent" and not params["request"]["url"].startswith(("file:", "data:")):
                found.append(f"request: {params['request']['url']}")
        return found

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):  # already gone: fine
            self.send("Browser.close", timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture()
def browser(tmp_path: Path) -> Chromium:
    chromium = Chromium(tmp_path / "profile")
    yield chromium
    chromium.close()


def set_control(browser: Chromium, control: str, value: str) -> int:
    """Set the slider or select ``control`` as a user would (its input/change event); returns the page's
    render count afterwards."""
    event = "input" if control == "ev" else "change"
    return int(browser.evaluate(f"(() => {{ const c = document.getElementById('{control}'); c.value = '{value}'; "
                                f"c.dispatchEvent(new Event('{event}')); return document.body.dataset.renders; }})()"))


def canvas_region(browser: Chromium, shot: np.ndarray, index: int = 0) -> np.ndarray:
    """The pixels of the ``index``-th canvas in a screenshot."""
    box = browser.evaluate(f"(() => {{ const r = document.querySelectorAll('canvas')[{index}].getBoundingClientRect(); "
                           "return [r.left, r.top, r.right, r.bottom].map(Math.round); })()")
    left, top, right, bottom = box
    assert right - left > 10 and bottom - top > 10
    return shot[top:bottom, left:right]


@needs_chromium
def test_photo_page_in_chromium(browser: Chromium, radiance: np.ndarray, tmp_path: Path) -> None:
    stack = [np.full((40, 60, 3), level, np.uint8) for level in (30, 128, 230)]
    page = tmp_path / "photo_viewer.html"
    write_photo_page(page, np.repeat(np.repeat(radiance, 8, 0), 8, 1), "photo", stack=stack, evs=(-1, 0, 1),
                     inverse_crf=np.tile(np.linspace(0.001, 1, 256), (3, 1)))
    assert browser.open(page.as_uri() + "#ev=-4") == "ready", browser.evaluate(
        "document.getElementById('errors').textContent")
    assert browser.evaluate("document.getElementById('ev').min + ' ' + document.getElementById('ev').max") == "-6 6"
    assert browser.evaluate("document.querySelectorAll('.stack img').length") == 3
    assert browser.evaluate("[...document.querySelectorAll('.stack img')].every(i => i.complete && i.naturalWidth > 0)")
    assert browser.evaluate("document.querySelectorAll('svg polyline').length") == 3
    dark = canvas_region(browser, browser.screenshot(tmp_path / "ev-4.png"))
    renders = set_control(browser, "ev", "4")
    bright = canvas_region(browser, browser.screenshot(tmp_path / "ev+4.png"))
    assert renders == 2
    assert browser.evaluate("location.hash") == "#ev=4&tm=clip"
    assert bright.mean() > dark.mean() + 40  # 8 stops brighter
    assert np.abs(bright - dark).mean() > 20
    set_control(browser, "tonemap", "reinhard")
    reinhard = canvas_region(browser, browser.screenshot(tmp_path / "ev+4-reinhard.png"))
    assert np.abs(reinhard - bright).mean() > 5
    clipped = (bright >= 250).all(axis=-1).mean()
    assert (reinhard >= 250).all(axis=-1).mean() < clipped  # Reinhard keeps highlights a clip loses
    assert browser.evaluate("document.body.dataset.state") == "ready"
    assert browser.problems() == []


@needs_chromium
def test_comparison_page_in_chromium(browser: Chromium, comparison_html: Path, tmp_path: Path) -> None:
    assert browser.open(comparison_html.as_uri()) == "ready", browser.evaluate(
        "document.getElementById('errors').textContent")
    assert browser.evaluate("document.querySelectorAll('canvas').length") == 3  # scene a: 1 panel, scene b: 2
    assert browser.evaluate("document.querySelector('table.metrics tbody').rows.length") == 2
    before = browser.screenshot(tmp_path / "compare-ev0.png")
    first, last = canvas_region(browser, before, 0), canvas_region(browser, before, 2)
    set_control(browser, "ev", "-5")
    after = browser.screenshot(tmp_path / "compare-ev-5.png")
    assert canvas_region(browser, after, 0).mean() < first.mean() - 20  # the shared slider moves every panel
    assert canvas_region(browser, after, 2).mean() < last.mean() - 20
    assert browser.problems() == []


@needs_chromium
def test_chromium_test_sees_script_errors(browser: Chromium, radiance: np.ndarray, tmp_path: Path) -> None:
    """The checks above fail on a broken page: the page says so, and an uncaught error is reported."""
    page = tmp_path / "broken.html"
    page.write_text(photo_page(radiance, "broken").replace("function render(", "function render() { x.y; }\n"
                                                                                  "function unused("))
    assert browser.open(page.as_uri()) == "error"
    assert "ReferenceError" in browser.evaluate("document.getElementById('errors').textContent")
    browser.evaluate("setTimeout(() => null.x); new Promise((resolve) => setTimeout(resolve, 100))")
    assert any("TypeError" in problem for problem in browser.problems())
