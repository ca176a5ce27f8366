"""Render 8-bit exposure stacks from linear HDR images, the way a camera would have taken them.

One function per concept:

- :class:`EMoR` and :func:`sample_response` -- real camera responses from the EMoR model
  (Grossberg & Nayar 2004): ``f0 + c @ h[:k]``, kept monotone and rescaled to [0, 1];
- :func:`repair_hdr` -- clean up resampling halos and channel dropouts in HDR files;
- :func:`equirect_to_perspective` and :func:`square_crop` -- views of a panorama or of a flat photo;
- :func:`auto_exposure` -- per-scene exposure so that EV 0 is well exposed;
- :func:`render_stack` -- exposure scaling, sensor noise, clipping, response and 8-bit quantisation;
- :func:`jpeg_compress` -- a JPEG round trip of every image of a stack;
- :func:`render_random_view` -- all of the above with random view, response, noise, exposure key and
  JPEG quality (datasets).

Conventions: HDR images are ``(H, W, 3)`` float32 linear RGB; stacks are ``(N, H, W, 3)`` uint8. The
returned ground-truth HDR is scaled so that EV 0 is exposed with time 1, i.e. stack image ``i`` is
``f(clip(hdr * 2**ev[i]))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hdrsyn.assets_index import EMOR_FILE
from ops.tonemap import BT709_WEIGHTS

#: Exposure values of the stacks, relative to the reference (EV 0); exposure times are ``2**EV``.
EVS: tuple[int, ...] = (-3, -2, -1, 0, 1, 2, 3)

#: Rec. 709 luminance weights for linear RGB.
_BT709 = np.array(BT709_WEIGHTS, dtype=np.float32)


@dataclass(frozen=True)
class EMoR:
    """The empirical model of response: ``f = f0 + c @ h[:k]`` sampled at irradiances ``E`` in [0, 1]."""

    E: np.ndarray
    f0: np.ndarray
    h: np.ndarray

    @classmethod
    def load(cls, path: str | Path = EMOR_FILE) -> EMoR:
        """Read ``E``, ``f0`` and ``h`` from an ``.npz`` file (default: the bundled model)."""
        with np.load(path) as data:
            return cls(E=data["E"], f0=data["f0"], h=data["h"])

    def response(self, coeffs: np.ndarray | list[float] | None = None) -> np.ndarray:
        """Response curve ``(len(E),)`` for coefficients ``c`` (None = the mean response ``f0``).

        The curve is made non-decreasing (running maximum) and rescaled to ``f(0) = 0``, ``f(1) = 1``.
        """
        curve = self.f0.copy()
        if coeffs is not None:
            coeffs = np.asarray(coeffs, dtype=np.float64)
            if coeffs.ndim != 1 or len(coeffs) > len(self.h):
                raise ValueError(f"coeffs must be a vector of at most {len(self.h)} values, got {coeffs.shape}")
            curve = curve + coeffs @ self.h[: len(coeffs)]
        curve = np.maximum.accumulate(curve)
        span = curve[-1] - curve[0]
        if span <= 0:
            raise ValueError("response is constant; use smaller EMoR coefficients")
        return ((curve - curve[0]) / span).astype(np.float32)


def sample_response(
    emor: EMoR, rng: np.random.Generator, k: int = 5, scale: float = 2.0, tries: int = 100
) -> np.ndarray:
    """A random camera response from the first ``k`` EMoR components.

    ``c[i] ~ N(0, (scale / (i + 1))**2)``; draws that are not monotone are rejected (``tries`` times,
    then the last draw is made monotone). With the defaults a mid-grey irradiance of 0.18 maps to
    0.25..0.57 (5th..95th percentile) -- the spread of gamma-like consumer camera curves.
    """
    sigma = scale / np.arange(1, k + 1)
    for _ in range(tries):
        coeffs = rng.normal(0.0, sigma)
        if np.all(np.diff(emor.f0 + coeffs @ emor.h[:k]) >= 0):
            break
    return emor.response(coeffs)


def apply_response(irradiance: np.ndarray, response: np.ndarray) -> np.ndarray:
    """Map irradiance in [0, 1] through a response sampled on a uniform grid over [0, 1] (linear interpolation)."""
    response = np.asarray(response, dtype=np.float32)
    position = np.clip(np.asarray(irradiance, dtype=np.float32), 0.0, 1.0) * np.float32(len(response) - 1)
    index = np.minimum(position.astype(np.int32), len(response) - 2)
    low = response[index]
    return low + (position - index.astype(np.float32)) * (response[index + 1] - low)


def repair_hdr(hdr: np.ndarray, passes: int = 3) -> np.ndarray:
    """Repair two defects of resampled and lossy-compressed HDR files; the result is non-negative.

    - Negative halos (ringing around lamps and suns): pixels with a negative channel are replaced by
      their 3x3 median, up to ``passes`` times; what is still negative is clamped to 0.
    - Channel dropouts in light-source cores (e.g. the sun of the bundled ``park.exr`` has zero red and
      green): pixels brighter than 100x the median luminance whose dimmest channel is below 1/1000 of the
      brightest become grey at the brightest channel's value.
    """
    hdr = np.ascontiguousarray(hdr, dtype=np.float32)
    for _ in range(passes):
        bad = (hdr < 0).any(axis=-1)
        if not bad.any():
            break
        hdr = np.where(bad[..., None], cv2.medianBlur(hdr, 3), hdr)
    hdr = np.maximum(hdr, 0.0)
    high, low = hdr.max(axis=-1, keepdims=True), hdr.min(axis=-1, keepdims=True)
    dropout = (high > 100 * np.median(luminance(hdr))) & (low < 1e-3 * high)
    return np.where(dropout, high, hdr)


def equirect_to_perspective(
    pano: np.ndarray, size: int, fov: float = 75.0, yaw: float = 0.0, pitch: float = 0.0
) -> np.ndarray:
    """Rectilinear (gnomonic) ``size x size`` view of an equirectangular panorama.

    Args:
        pano: ``(H, W, C)`` equirectangular image, longitude -180..180 left to right, latitude 90..-90
            top to bottom.
        size: side of the square output in pixels.
        fov: horizontal (= vertical) field of view in degrees, in (0, 180).
        yaw: viewing direction's longitude in degrees (0 = panorama centre, positive = right).
        pitch: viewing direction's latitude in degrees (positive = up), in [-90, 90].

    Each output pixel samples the panorama along its own ray, so there is no distortion at the poles.
    The panorama is area-downsampled first when it is finer than the output (no aliasing).
    """
    if not 0 < fov < 180:
        raise ValueError(f"fov must be in (0, 180) degrees, got {fov}")
    if not -90 <= pitch <= 90:
        raise ValueError(f"pitch must be in [-90, 90] degrees, got {pitch}")
    half = math.tan(math.radians(fov) / 2)
    pano = _match_resolution(pano, out_pitch=2 * half / size)
    height, width = pano.shape[:2]

    t = (np.arange(size, dtype=np.float64) + 0.5) / size * 2 - 1
    x, y = np.meshgrid(t * half, -t * half)  # camera frame: x right, y up, z forward
    z = np.ones_like(x)
    p, w = math.radians(pitch), math.radians(yaw)
    y, z = y * math.cos(p) + z * math.sin(p), -y * math.sin(p) + z * math.cos(p)
    x, z = x * math.cos(w) + z * math.sin(w), -x * math.sin(w) + z * math.cos(w)
    lon = np.arctan2(x, z)
    lat = np.arctan2(y, np.hypot(x, z))

    # Sample with one wrapped column on each side and replicated rows at the poles.
    padded = np.concatenate([pano[:, -1:], pano, pano[:, :1]], axis=1)
    map_x = ((lon / (2 * math.pi) + 0.5) * width - 0.5 + 1).astype(np.float32)
    map_y = ((0.5 - lat / math.pi) * height - 0.5).astype(np.float32)
    return cv2.remap(padded, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _match_resolution(pano: np.ndarray, out_pitch: float) -> np.ndarray:
    """Area-downsample a panorama whose pixel pitch (radians) is finer than ``out_pitch``."""
    height, width = pano.shape[:2]
    target = math.ceil(2 * math.pi / out_pitch)
    if target >= width:
        return pano
    return cv2.resize(pano, (target, max(1, round(height * target / width))), interpolation=cv2.INTER_AREA)


def square_crop(
    image: np.ndarray, size: int, zoom: float = 1.0, center: tuple[float, float] = (0.5, 0.5)
) -> np.ndarray:
    """Square crop of a flat photo, resized to ``size x size``.

    The crop's side is the image's shorter side divided by ``zoom`` (>= 1); ``center`` gives its centre
    as fractions of the free range (0 = left/top, 1 = right/bottom). Downsizing uses area averaging.
    """
    if zoom < 1:
        raise ValueError(f"zoom must be >= 1, got {zoom}")
    height, width = image.shape[:2]
    side = max(1, round(min(height, width) / zoom))
    top = round((height - side) * center[1])
    left = round((width - side) * center[0])
    crop = image[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def luminance(hdr: np.ndarray) -> np.ndarray:
    """Rec. 709 luminance ``(H, W)`` of a linear RGB image ``(H, W, 3)``: the NumPy twin of
    :func:`ops.tonemap.luminance` (channels first, torch), same weights."""
    return hdr @ _BT709


def auto_exposure(hdr: np.ndarray, key: float = 0.18, max_clipped: float = 0.05) -> float:
    """Exposure scale ``s`` for which ``s * hdr`` is well exposed.

    The log-average luminance is mapped to ``key`` (Reinhard's photographic rule), lowered if needed so
    that at most a fraction ``max_clipped`` of the pixels saturate (luminance above 1).
    """
    lum = np.maximum(luminance(hdr), 0.0)
    log_avg = float(np.exp(np.mean(np.log(lum + 1e-6))))
    scale = key / max(log_avg, 1e-6)
    bright = float(np.quantile(lum, 1.0 - max_clipped, method="higher"))
    if bright > 0:
        scale = min(scale, 1.0 / bright)
    return scale


def render_stack(
    hdr: np.ndarray,
    response: np.ndarray,
    evs: tuple[float, ...] = EVS,
    noise: tuple[float, float] | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """8-bit exposure stack ``(len(evs), H, W, 3)`` of a linear HDR image exposed with times ``2**ev``.

    Per exposure: irradiance ``hdr * 2**ev``, optional sensor noise, clip to [0, 1], camera response,
    rounding to 8 bits.

    Args:
        hdr: ``(H, W, 3)`` linear RGB, already scaled so that EV 0 is well exposed.
        response: camera response on a uniform irradiance grid over [0, 1] (see :meth:`EMoR.response`).
        noise: ``(shot, read)``: Gaussian noise of variance ``shot * x + read**2`` on the irradiance ``x``
            (a heteroscedastic shot + read noise model), independent per exposure; None = noise free.
        rng: random generator for the noise (required when ``noise`` is given).
    """
    if noise is not None and rng is None:
        raise ValueError("rng is required when noise is given")
    hdr = np.maximum(np.asarray(hdr, dtype=np.float32), 0.0)
    stack = np.empty((len(evs), *hdr.shape), dtype=np.uint8)
    for i, ev in enumerate(evs):
        irradiance = hdr * np.float32(2.0**ev)
        if noise is not None:
            shot, read = noise
            sigma = np.sqrt(shot * np.minimum(irradiance, 1.0) + read**2)
            irradiance = irradiance + sigma * rng.standard_normal(hdr.shape, dtype=np.float32)
        values = apply_response(np.clip(irradiance, 0.0, 1.0), response)
        stack[i] = np.round(values * 255.0).astype(np.uint8)
    return stack


@dataclass(frozen=True)
class ViewSampling:
    """Ranges of the random views, responses and noise drawn by :func:`render_random_view`.

    Angles in degrees. ``above_horizon`` keeps a panorama's whole view above the horizon (pitch >= FOV/2).
    ``zoom`` applies to flat photos only. ``noise=False`` renders noise-free stacks. ``key`` is the range of
    the auto-exposure key (log-uniform; a wider range than 0.18 varies how bright the input photo is) and
    ``jpeg_quality`` the range of the JPEG quality every image of a view is compressed with (None: no
    JPEG). ``gamma_responses`` is the share of views whose camera response is a gamma curve
    ``E^(1/g)``, ``g`` uniform in ``gamma`` (sRGB-like consumer pipelines; the others draw from EMoR),
    followed by a contrast S-curve of strength uniform in ``contrast`` (:func:`contrast_curve`: the
    tone curve a camera applies to its JPEGs; (0, 0) = none). ``highlight_tries`` > 1 draws that many
    framings and keeps the one with the most :func:`highlight_content` (more suns, lamps and windows to
    learn the clipped highlights from). Degenerate ranges, a zero share and one try draw no extra random
    numbers, so the default views stay the same.
    """

    fov: tuple[float, float] = (60.0, 90.0)
    pitch: tuple[float, float] = (-20.0, 20.0)
    zoom: tuple[float, float] = (1.0, 2.0)
    above_horizon: bool = False
    response_components: int = 5
    shot_noise: tuple[float, float] = (1e-4, 3e-3)
    read_noise: tuple[float, float] = (2e-4, 2e-3)
    noise: bool = True
    key: tuple[float, float] = (0.18, 0.18)
    jpeg_quality: tuple[int, int] | None = None
    gamma_responses: float = 0.0
    gamma: tuple[float, float] = (1.8, 2.6)
    contrast: tuple[float, float] = (0.0, 0.0)
    highlight_tries: int = 1

    def __post_init__(self) -> None:
        if self.highlight_tries < 1:
            raise ValueError(f"highlight_tries must be >= 1, got {self.highlight_tries}")


def gamma_response(emor: EMoR, gamma: float) -> np.ndarray:
    """The response ``E^(1/gamma)`` sampled on EMoR's irradiance grid.

    Example:
        >>> emor = EMoR.load()
        >>> round(float(np.interp(0.18, emor.E, gamma_response(emor, 2.2))), 3)
        0.459
    """
    return np.power(np.clip(emor.E, 0.0, 1.0), 1.0 / gamma)


def contrast_curve(response: np.ndarray, strength: float) -> np.ndarray:
    """``response`` through a contrast S-curve: ``(1 - s) y + s * smoothstep(y)``, ``smoothstep(y) =
    y^2 (3 - 2y)``; monotone for ``s`` in [0, 1], fixes 0, 1/2 and 1 (``s = 0``: unchanged).

    Example:
        >>> y = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
        >>> contrast_curve(y, 0.5).round(4).tolist()
        [0.0, 0.2031, 0.5, 0.7969, 1.0]
    """
    if not 0 <= strength <= 1:
        raise ValueError(f"contrast strength must be in [0, 1], got {strength}")
    return (1 - strength) * response + strength * response * response * (3 - 2 * response)


#: Training views of the bundled sample: input exposure and JPEG compression vary as in real photos.
VARIED_CAPTURE = ViewSampling(key=(0.09, 0.36), jpeg_quality=(60, 100))


def render_random_view(
    image: np.ndarray,
    emor: EMoR,
    rng: np.random.Generator,
    size: int,
    panorama: bool,
    sampling: ViewSampling = ViewSampling(),
    evs: tuple[float, ...] = EVS,
) -> tuple[np.ndarray, np.ndarray]:
    """One random view of an HDR image rendered as an exposure stack.

    Draws the view (panorama: FOV, yaw, pitch; flat photo: zoom and position), a camera response, and
    (log-uniform) noise levels, exposes the view automatically, and renders the stack.

    Returns:
        ``(stack, hdr)``: uint8 ``(len(evs), size, size, 3)`` and the float32 ``(size, size, 3)`` view
        scaled by its exposure, so that ``stack[i] = f(clip(hdr * 2**evs[i]))`` (plus noise).
    """
    view = _random_framing(image, rng, size, panorama, sampling)
    if sampling.highlight_tries > 1:
        others = [_random_framing(image, rng, size, panorama, sampling) for _ in range(sampling.highlight_tries - 1)]
        view = max([view, *others], key=highlight_content)
    key = sampling.key[0] if sampling.key[0] == sampling.key[1] else _log_uniform(rng, sampling.key)
    view = np.maximum(view, 0.0) * np.float32(auto_exposure(view, key=key))
    if sampling.gamma_responses > 0 and rng.uniform() < sampling.gamma_responses:
        response = gamma_response(emor, rng.uniform(*sampling.gamma))
        if sampling.contrast[1] > 0:
            response = contrast_curve(response, rng.uniform(*sampling.contrast))
    else:
        response = sample_response(emor, rng, k=sampling.response_components)
    noise = None
    if sampling.noise:
        noise = (_log_uniform(rng, sampling.shot_noise), _log_uniform(rng, sampling.read_noise))
    stack = render_stack(view, response, evs, noise, rng)
    if sampling.jpeg_quality is not None:
        stack = jpeg_compress(stack, int(rng.integers(sampling.jpeg_quality[0], sampling.jpeg_quality[1] + 1)))
    return stack, view.astype(np.float32)


def _random_framing(image: np.ndarray, rng: np.random.Generator, size: int, panorama: bool,
                    sampling: ViewSampling) -> np.ndarray:
    """One random perspective view of a panorama (FOV, yaw, pitch) or crop of a flat photo (zoom, position)."""
    if panorama:
        fov = rng.uniform(*sampling.fov)
        low, high = sampling.pitch
        if sampling.above_horizon:  # bottom edge at elevation >= 0 => the whole view is above the horizon
            low = min(max(low, fov / 2), 90.0)
            high = min(max(high, low), 90.0)
        return equirect_to_perspective(image, size, fov, yaw=rng.uniform(-180, 180), pitch=rng.uniform(low, high))
    return square_crop(image, size, zoom=rng.uniform(*sampling.zoom), center=tuple(rng.uniform(0, 1, 2)))


def highlight_content(view: np.ndarray) -> float:
    """Mean stops above the clip of ``view``'s luminance at its :func:`auto_exposure` (key 0.18): 0 for a
    view that does not clip, large for one with a sun, lamps or windows far above the clip.

    Example:
        >>> flat = np.full((8, 8, 3), 0.5, np.float32)
        >>> lamp = flat.copy(); lamp[:1, :3] = 500.0
        >>> highlight_content(flat), round(highlight_content(lamp), 2)
        (0.0, 0.33)
    """
    lum = np.maximum(luminance(view), 0.0) * auto_exposure(view)
    return float(np.mean(np.log2(np.maximum(lum, 1.0))))


def jpeg_compress(images: np.ndarray, quality: int) -> np.ndarray:
    """Each uint8 RGB image of ``(N, H, W, 3)`` through a JPEG encode/decode round trip at ``quality``."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in [1, 100], got {quality}")
    out = np.empty_like(images)
    for i, image in enumerate(images):
        ok, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG image")
        out[i] = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    return out


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))
