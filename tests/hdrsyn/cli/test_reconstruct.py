"""``hdrsyn reconstruct``: any input format, file handling, interruptions, errors of the command line."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from hdrsyn.inference import reconstruct_image
from hdrsyn.ledger import LEDGER_NAME
from hdrsyn.io import read_hdr, read_ldr
from hdrsyn.model_registry import load_reconstructor
from hdrsyn.cli.reconstruct import main
from lightning_modules.diffhdrsyn import GlobalStage, JointStage
from tests.hdrsyn.conftest import save_checkpoint


EVS = ["-3", "-2", "-1", "+0", "+1", "+2", "+3"]


def test_cli_refuses_global_stage_clearly(tmp_path: Path, photo: np.ndarray, capsys) -> None:
    path = save_checkpoint(GlobalStage(width="tiny"), tmp_path / "global.ckpt")
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    assert main([str(tmp_path / "a.png"), "--ckpt", str(path), "-o", str(tmp_path / "out")]) == 2
    assert "GlobalStage checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_reads_grey_rgba_16_bit_and_rotated_inputs(ckpt: Path, photo: np.ndarray, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    cv2.imwrite(str(inputs / "grey.png"), photo[..., 0])
    cv2.imwrite(str(inputs / "rgba.png"), np.dstack([photo, np.full(photo.shape[:2], 128, np.uint8)]))
    cv2.imwrite(str(inputs / "deep.tif"), photo.astype(np.uint16) * 257)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    Image.fromarray(photo).save(inputs / "rotated.jpg", exif=exif)
    out = tmp_path / "out"
    assert main([str(inputs), "--ckpt", str(ckpt), "-o", str(out), "--hdr-format", "both"]) == 0
    for name in ("grey.png", "rgba.png", "deep.tif", "rotated.jpg"):
        stem, shape = Path(name).stem, read_ldr(inputs / name).shape
        assert shape[:2] == ((70, 100) if stem == "rotated" else (100, 70))  # EXIF orientation applied
        for suffix in (".exr", ".hdr"):
            assert read_hdr(out / f"{stem}{suffix}").shape == shape
        for ev in EVS:
            assert read_ldr(out / f"{stem}_ev{ev}.png").shape == shape
        assert read_ldr(out / f"{stem}_preview.png").shape == shape
        assert (out / f"{stem}_crf.png").stat().st_size > 1000
    np.testing.assert_array_equal(read_ldr(out / "grey_ev+0.png"), read_ldr(inputs / "grey.png"))  # EV 0 = input
    np.testing.assert_allclose(read_ldr(out / "deep_ev+0.png"), read_ldr(inputs / "deep.tif"), atol=0.5 / 255 + 1e-6)


def test_cli_never_overwrites_without_flag(ckpt: Path, photo: np.ndarray, tmp_path: Path, capsys) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_preview.png").write_bytes(b"mine")
    args = [str(tmp_path / "a.png"), "--ckpt", str(ckpt), "-o", str(out)]
    assert main(args) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (out / "a_preview.png").read_bytes() == b"mine" and not (out / "a.exr").exists()
    assert main([*args, "--overwrite"]) == 1, "--overwrite replaces earlier outputs, not a file of the user's"
    assert "a_preview.png: not written by an earlier hdrsyn run" in capsys.readouterr().err
    assert (out / "a_preview.png").read_bytes() == b"mine" and not (out / "a.exr").exists()
    (out / "a_preview.png").unlink()
    assert main(args) == 0
    assert read_ldr(out / "a_preview.png").shape == (100, 70, 3)
    with (out / "a.exr").open("ab") as stream:  # edited since the run wrote it
        stream.write(b"edited")
    assert main([*args, "--overwrite"]) == 1 and "a.exr: not written by an earlier" in capsys.readouterr().err
    (out / "a.exr").unlink()
    assert main([*args, "--overwrite"]) == 0, "its own outputs, unchanged, are replaced"
    assert read_hdr(out / "a.exr").shape == (100, 70, 3)


def test_overwrite_never_replaces_a_real_bracket_named_like_an_output(ckpt: Path, photo: np.ndarray,
                                                                      tmp_path: Path, capsys) -> None:
    """The issue's case: ``scene.png`` beside the user's real ``scene_ev+1.png``, reconstructed into that folder."""
    cv2.imwrite(str(tmp_path / "scene.png"), photo)
    cv2.imwrite(str(tmp_path / "scene_ev+1.png"), np.clip(photo.astype(int) * 2, 0, 255).astype(np.uint8))
    bracket = (tmp_path / "scene_ev+1.png").read_bytes()
    assert main([str(tmp_path / "scene.png"), "--ckpt", str(ckpt), "-o", str(tmp_path), "--overwrite"]) == 1
    assert "scene_ev+1.png: not written by an earlier hdrsyn run" in capsys.readouterr().err
    assert (tmp_path / "scene_ev+1.png").read_bytes() == bracket
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.png", "scene_ev+1.png"]


def test_cli_one_bad_file_does_not_stop_the_others(ckpt: Path, photo: np.ndarray, tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.png").write_bytes(b"not a png")
    cv2.imwrite(str(tmp_path / "good.png"), photo)
    (tmp_path / "empty.jpg").write_bytes(b"")
    files = [str(tmp_path / name) for name in ("bad.png", "empty.jpg", "good.png")]
    assert main([*files, "--ckpt", str(ckpt), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "bad.png" in err and "empty.jpg" in err and "2 of 3 file(s) failed" in err
    assert read_hdr(tmp_path / "out" / "good.exr").shape == (100, 70, 3)
    assert not list((tmp_path / "out").glob("bad*"))
    assert [p.name for p in (tmp_path / "out").glob(".*")] == [LEDGER_NAME], "no temporary is left"


def test_cli_names_a_checkpoint_with_nan_weights(joint: JointStage, photo: np.ndarray, tmp_path: Path, capsys) -> None:
    path = save_checkpoint(joint, tmp_path / "diverged.ckpt")
    checkpoint = torch.load(path, weights_only=False)
    next(v for v in checkpoint["state_dict"].values() if v.is_floating_point()).fill_(float("nan"))
    torch.save(checkpoint, path)
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    assert main([str(tmp_path / "a.png"), "--ckpt", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: 1 weight tensor(s) hold NaN or Inf" in err and "[0, 1]" not in err
    assert not (tmp_path / "out").exists()


def test_cli_names_a_checkpoint_of_an_unknown_width(joint: JointStage, photo: np.ndarray, tmp_path: Path,
                                                   capsys) -> None:
    path = save_checkpoint(joint, tmp_path / "huge.ckpt")
    checkpoint = torch.load(path, weights_only=False)
    checkpoint["hyper_parameters"]["width"] = "huge"
    torch.save(checkpoint, path)
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    assert main([str(tmp_path / "a.png"), "--ckpt", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "unknown width preset width='huge'" in err and "Traceback" not in err


@pytest.mark.parametrize("value", [0, 255])
def test_cli_refuses_a_black_or_white_photo(ckpt: Path, tmp_path: Path, capsys, value: int) -> None:
    cv2.imwrite(str(tmp_path / "flat.png"), np.full((40, 30, 3), value, np.uint8))
    assert main([str(tmp_path / "flat.png"), "--ckpt", str(ckpt), "-o", str(tmp_path / "out")]) == 1
    assert "nothing to reconstruct" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_outputs_written_meanwhile_by_another_run_are_not_mixed(ckpt: Path, photo: np.ndarray, tmp_path: Path,
                                                               monkeypatch, capsys) -> None:
    """Two runs into one folder with the same stem: the one that commits second is refused as a whole."""
    import hdrsyn.inference as inference

    cv2.imwrite(str(tmp_path / "x.png"), photo)
    out = tmp_path / "out"
    original = inference.reconstruct_image

    def other_run_finishes_first(*args, **kwargs) -> dict:  # noqa: ANN002, ANN003
        result = original(*args, **kwargs)
        out.mkdir()
        (out / "x_preview.png").write_bytes(b"the other run's")
        return result

    monkeypatch.setattr(inference, "reconstruct_image", other_run_finishes_first)
    assert main([str(tmp_path / "x.png"), "--ckpt", str(ckpt), "-o", str(out)]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["x_preview.png"]
    assert (out / "x_preview.png").read_bytes() == b"the other run's"


# --- inputs and outputs never meet ------------------------------------------------------------------------


def one_line_error(capsys) -> str:
    """stderr of a refused command: exactly one line, no traceback."""
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def bracket(photo: np.ndarray, tmp_path: Path) -> Path:
    """A folder with a photo ``scene.png`` and the user's real +1 EV photo of it, ``scene_ev+1.png``."""
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "scene.png"), photo)
    cv2.imwrite(str(folder / "scene_ev+1.png"), np.clip(photo.astype(int) * 2, 0, 255).astype(np.uint8))
    return folder


def test_cli_refuses_the_input_folder_as_output_folder(ckpt: Path, bracket: Path, tmp_path: Path, capsys) -> None:
    """The issue's run: DIR -o DIR --overwrite would replace the real +1 EV photo; also through a link to DIR."""
    before = snapshot(bracket)
    (tmp_path / "link").symlink_to(bracket)
    for out in (bracket, tmp_path / "link"):
        assert main([str(bracket), "-o", str(out), "--overwrite", "--ckpt", str(ckpt)]) == 2
        err = one_line_error(capsys)
        assert f"-o {out} is the input folder {bracket}" in err and "choose another -o" in err
    assert snapshot(bracket) == before


def test_cli_refuses_an_output_that_would_replace_an_input(ckpt: Path, bracket: Path, capsys) -> None:
    """Both photos named: scene.png's +1 EV output is the other input; refused before anything runs."""
    before = snapshot(bracket)
    files = [str(bracket / "scene.png"), str(bracket / "scene_ev+1.png")]
    assert main([*files, "-o", str(bracket), "--overwrite", "--ckpt", str(ckpt)]) == 2
    err = one_line_error(capsys)
    assert f"{bracket / 'scene_ev+1.png'}, an output of {bracket / 'scene.png'}, would replace the input" in err
    assert snapshot(bracket) == before


def test_cli_refuses_two_photos_writing_the_same_outputs(ckpt: Path, photo: np.ndarray, tmp_path: Path,
                                                         capsys) -> None:
    for name in ("a.png", "sub/a.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / name), photo)
    args = [str(tmp_path / "a.png"), str(tmp_path / "sub" / "a.jpg"), "--ckpt", str(ckpt), "-o", str(tmp_path / "out")]
    assert main(args) == 2
    assert f"{tmp_path / 'a.png'} and {tmp_path / 'sub' / 'a.jpg'} would both write" in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


def test_cli_runs_a_photo_named_twice_once(ckpt: Path, photo: np.ndarray, tmp_path: Path, capsys) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    (tmp_path / "link.png").symlink_to(tmp_path / "a.png")
    args = [str(tmp_path / "a.png"), str(tmp_path / "a.png"), str(tmp_path / "link.png")]
    assert main([*args, "--ckpt", str(ckpt), "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert err.count("the same file as") == 2
    assert sorted(p.name for p in (tmp_path / "out").glob("*.exr")) == ["a.exr"]


def test_folder_run_skips_outputs_of_its_photos_and_says_why(ckpt: Path, bracket: Path, photo: np.ndarray,
                                                             tmp_path: Path, capsys) -> None:
    """A folder's files named like the outputs of a photo in it, other types and subfolders are skipped, named;
    a re-run into the same output folder skips the photos already done and writes nothing."""
    cv2.imwrite(str(bracket / "x.png"), photo)
    cv2.imwrite(str(bracket / "x_preview.png"), photo)
    cv2.imwrite(str(bracket / "x_ev+1_crf.png"), photo)  # an output's name of a photo that is not here: a photo
    (bracket / "notes.txt").write_text("not a photo")
    (bracket / "old").mkdir()
    out = bracket / "old" / "hdr"  # inside the input folder: fine, subfolders are not searched
    assert main([str(bracket), "--ckpt", str(ckpt), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipping 2 file(s) named like the outputs of another photo here" in err
    assert "scene_ev+1.png, x_preview.png" in err and "notes.txt" in err and "old" in err
    assert sorted(p.name for p in out.glob("*.exr")) == ["scene.exr", "x.exr", "x_ev+1_crf.exr"]
    files = snapshot(out)
    assert main([str(bracket), "--ckpt", str(ckpt), "-o", str(out)]) == 0
    assert capsys.readouterr().err.count("already in") == 3 and snapshot(out) == files


@pytest.mark.parametrize("kind", ["file", "under a file"])
def test_cli_checks_the_output_folder_before_any_photo(ckpt: Path, photo: np.ndarray, tmp_path: Path, capsys,
                                                       monkeypatch, kind: str) -> None:
    import hdrsyn.inference as inference

    cv2.imwrite(str(tmp_path / "a.png"), photo)
    (tmp_path / "taken").write_text("mine")
    monkeypatch.setattr(inference, "read_ldr", lambda path: pytest.fail(f"{path} was read"))
    out = tmp_path / "taken" if kind == "file" else tmp_path / "taken" / "out"
    assert main([str(tmp_path / "a.png"), "--ckpt", str(ckpt), "-o", str(out)]) == 2
    err = one_line_error(capsys)
    assert f"-o {out}: " in err and ("is not a folder" in err if kind == "file" else "is a file" in err)
    assert (tmp_path / "taken").read_text() == "mine"


def test_cli_usage_errors_are_one_line(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path), "-o", str(tmp_path / "out"), "--work-size", "0"])
    assert exit_.value.code == 2 and "--work-size: expected a positive number, got '0'" in one_line_error(capsys)


# --- interruptions and full disks -------------------------------------------------------------------------


@pytest.fixture()
def three_photos(photo: np.ndarray, tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        cv2.imwrite(str(folder / name), photo)
    return folder


def test_ctrl_c_stops_cleanly_and_a_rerun_continues(ckpt: Path, three_photos: Path, tmp_path: Path, monkeypatch,
                                                    capsys) -> None:
    """Ctrl-C in the second photo: one line, exit 130, only the first photo's complete group; the re-run skips
    it (not a failure) and does the other two."""
    import hdrsyn.inference as inference

    original, calls = inference.reconstruct_image, []

    def interrupted_second(*args, **kwargs) -> dict:  # noqa: ANN002, ANN003
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(inference, "reconstruct_image", interrupted_second)
    out = tmp_path / "out"
    args = [str(three_photos), "--ckpt", str(ckpt), "-o", str(out)]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "hdrsyn reconstruct: interrupted; 1 of 3 done, re-run to continue"
    assert "Traceback" not in err and {p.name.split("_")[0].split(".")[0] for p in out.iterdir() if p.name != LEDGER_NAME} == {"a"}
    assert len(list(out.iterdir())) == 13  # a.exr, 7 exposures, response, preview, uhdr, viewer, ledger: no temporaries
    monkeypatch.setattr(inference, "reconstruct_image", original)
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "a.png: its outputs are already in" in err and "failed" not in err
    assert len(list(out.iterdir())) == 37  # 3 x 12 and the ledger


def test_ctrl_c_while_committing_completes_the_group(ckpt: Path, three_photos: Path, tmp_path: Path, monkeypatch,
                                                     capsys) -> None:
    """A Ctrl-C between two renames of a group's commit waits until the group is complete."""
    import os
    import signal

    real_replace, calls = os.replace, []

    def interrupted_replace(src, dst) -> None:  # noqa: ANN001
        if not Path(dst).name.startswith("."):  # a rename of the commit, not of an encoder's temporary
            calls.append(dst)
            if len(calls) == 3:
                signal.raise_signal(signal.SIGINT)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    out = tmp_path / "out"
    assert main([str(three_photos / "a.png"), str(three_photos / "b.png"), "--ckpt", str(ckpt), "-o", str(out)]) == 130
    assert "interrupted; 0 of 2 done" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir() if p.name != LEDGER_NAME) == sorted(Path(p).name for p in calls)
    assert len(calls) == 12  # a's group, whole


def test_a_full_disk_stops_the_run_with_one_line_per_file(ckpt: Path, three_photos: Path, tmp_path: Path,
                                                          monkeypatch, capsys) -> None:
    import errno

    import hdrsyn.inference as inference
    from hdrsyn.io import ImageIOError

    out = tmp_path / "out"

    def full_disk(path, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        Path(path).write_bytes(b"half")  # the encoder got this far
        raise ImageIOError(f"cannot write {path}: no space left on {out}") from OSError(errno.ENOSPC, "No space")

    monkeypatch.setattr(inference, "write_hdr", full_disk)
    assert main([str(three_photos), "--ckpt", str(ckpt), "-o", str(out)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line for line in lines if "no space left on" in line][0].startswith(f"hdrsyn reconstruct: {three_photos}")
    assert lines[-1].startswith("hdrsyn reconstruct: stopped after 0 of 3 done: ")
    assert "b.png" not in "".join(lines) and snapshot(out) == {}  # stopped early; nothing partial


def test_cli_picks_a_work_size_that_fits_and_refuses_one_that_does_not(ckpt: Path, photo: np.ndarray,
                                                                       tmp_path: Path, capsys) -> None:
    from hdrsyn.memory import GB, estimate_bytes

    model = load_reconstructor(ckpt)
    cv2.imwrite(str(tmp_path / "big.png"), cv2.resize(photo, (300, 430)))
    budget = estimate_bytes(model, 430, 300, 256, None, None) * 1.01  # whole at 256 fits, full resolution not
    assert min(estimate_bytes(model, 430, 300, None, None, rows) for rows in (None, 100)) > budget
    args = [str(tmp_path / "big.png"), "--ckpt", str(ckpt), "-o", str(tmp_path / "out"),
            "--max-memory", str(budget / GB)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"a 300x430 photo at full resolution needs more than --max-memory {budget / GB:g} (GB); running at " \
           "--work-size " in err
    assert read_ldr(tmp_path / "out" / "big_ev+1.png").shape == (430, 300, 3)
    assert main([*args[:-2], "-o", str(tmp_path / "out2"), "--work-size", "400", "--max-memory", "0.000001"]) == 1
    assert "--work-size 400 needs about" in capsys.readouterr().err and not (tmp_path / "out2").exists()


def test_a_display_p3_photo_is_converted_and_said(ckpt: Path, photo: np.ndarray, tmp_path: Path, capsys) -> None:
    """The issue's case: a P3-tagged photo (every recent iPhone photo) must not give the untagged copy's HDR."""
    from PIL import Image

    from tests.hdrsyn.test_io import DISPLAY_P3, _rgb_icc, _srgb_curve_tag

    Image.fromarray(photo).save(tmp_path / "plain.png")
    Image.fromarray(photo).save(tmp_path / "p3.png", icc_profile=_rgb_icc("Display P3", DISPLAY_P3, _srgb_curve_tag()))
    out = tmp_path / "out"
    assert main([str(tmp_path / "plain.png"), str(tmp_path / "p3.png"), "--ckpt", str(ckpt), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "p3.png: converted from Display P3 to sRGB" in err and "plain.png: converted" not in err
    plain, p3 = read_hdr(out / "plain.exr"), read_hdr(out / "p3.exr")
    assert not np.array_equal(plain, p3)
    # P3 is wider than sRGB: in sRGB the same numbers are more saturated (larger spread between channels).
    assert (p3.max(-1) / p3.min(-1).clip(1e-6)).mean() > (plain.max(-1) / plain.min(-1).clip(1e-6)).mean()


def test_ultra_hdr_and_viewer_are_written_unless_switched_off(ckpt: Path, photo: np.ndarray, tmp_path: Path) -> None:
    from hdrsyn.gainmap import read_ultrahdr

    cv2.imwrite(str(tmp_path / "a.png"), photo)
    assert main([str(tmp_path / "a.png"), "--ckpt", str(ckpt), "-o", str(tmp_path / "out")]) == 0
    radiance, metadata = read_ultrahdr((tmp_path / "out" / "a_uhdr.jpg").read_bytes())
    assert radiance.shape == (100, 70, 3) and metadata.hdr_capacity_max > 0
    page = (tmp_path / "out" / "a_viewer.html").read_text()
    assert "EV +3" in page and not re.search(r"""(src|href)=["']?https?:""", page)  # self-contained
    assert main([str(tmp_path / "a.png"), "--ckpt", str(ckpt), "-o", str(tmp_path / "bare"), "--no-uhdr",
                 "--no-viewer"]) == 0
    assert not list((tmp_path / "bare").glob("a_uhdr*")) and not list((tmp_path / "bare").glob("a_viewer*"))


def test_a_missing_input_is_one_line_before_the_model_loads(tmp_path: Path, capsys, monkeypatch) -> None:
    import hdrsyn.cli.reconstruct as cli

    monkeypatch.setattr(cli, "load_reconstructor", lambda *args: pytest.fail("the model was loaded"))
    assert main([str(tmp_path / "nope.jpg"), "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"hdrsyn reconstruct: error: {tmp_path / 'nope.jpg'}: no such file or folder\n"


def test_overwrite_recognises_its_outputs_in_a_copied_folder(ckpt: Path, photo: np.ndarray, tmp_path: Path) -> None:
    """The ledger records content, not modification times: a backup or a copy of the folder stays ours."""
    import shutil

    cv2.imwrite(str(tmp_path / "a.png"), photo)
    args = [str(tmp_path / "a.png"), "--ckpt", str(ckpt), "--no-viewer", "--no-uhdr"]
    assert main([*args, "-o", str(tmp_path / "out")]) == 0
    shutil.copytree(tmp_path / "out", tmp_path / "copy")  # new modification times
    assert main([*args, "-o", str(tmp_path / "copy"), "--overwrite"]) == 0


def test_a_packaged_model_is_chosen_by_name(tmp_path: Path, capsys) -> None:
    """``--model NAME`` runs any packaged model (an earlier default too); an unknown name is one line, exit 2."""
    from hdrsyn.pretrained import read_manifest

    photo = (np.random.default_rng(0).uniform(0, 255, (32, 32, 3))).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    for name in read_manifest()["models"]:
        out = tmp_path / name
        assert main([str(tmp_path / "a.png"), "--model", name, "-o", str(out), "--no-uhdr", "--no-viewer"]) == 0
        assert f"{name}.pt" in capsys.readouterr().err and (out / "a.exr").is_file()
    assert main([str(tmp_path / "a.png"), "--model", "no-such-model", "-o", str(tmp_path / "x")]) == 2
    assert "no packaged model 'no-such-model'" in capsys.readouterr().err and not (tmp_path / "x").exists()
    with pytest.raises(SystemExit):
        main([str(tmp_path / "a.png"), "--model", "m", "--ckpt", "c.ckpt", "-o", str(tmp_path / "y")])
