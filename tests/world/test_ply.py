"""Standard 3DGS ``.ply`` files: the layout on disk, bit-exact round trips, files as trainers write them, and
clear refusals of files that are not splat scenes."""

import numpy as np
import plyfile
import pytest
import torch

from kinema.errors import KinemaInputError
from kinema.world.gaussians import SH_COEFFS, Gaussians
from kinema.world.ply import read_ply, write_ply

FIELDS = ("means", "sh", "opacity_logits", "log_scales", "quaternions")
SPLAT = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
         "rot_0", "rot_1", "rot_2", "rot_3"]


def random_gaussians(n: int, degree: int, seed: int = 0) -> Gaussians:
    g = torch.Generator().manual_seed(seed)
    return Gaussians(torch.randn(n, 3, generator=g), torch.randn(n, SH_COEFFS[degree], 3, generator=g),
                     torch.randn(n, generator=g), torch.randn(n, 3, generator=g), torch.randn(n, 4, generator=g))


def write_vertices(path, columns: dict, byte_order="<", text=False, extra_elements=()) -> None:
    """A PLY file of one vertex element with ``columns`` (name -> values; the dtype is the values')."""
    count = len(next(iter(columns.values()))) if columns else 0
    table = np.empty(count, dtype=[(name, np.asarray(v).dtype.str) for name, v in columns.items()])
    for name, values in columns.items():
        table[name] = values
    elements = [plyfile.PlyElement.describe(table, "vertex"), *extra_elements]
    plyfile.PlyData(elements, text=text, byte_order=byte_order).write(str(path))


def inria_columns(n: int, degree: int, seed: int = 0, normals: bool = True) -> dict:
    """Property columns as the Inria trainer writes them; f_rest_i holds i + 1000·vertex, to trace the layout."""
    rng = np.random.default_rng(seed)
    rest = 3 * (SH_COEFFS[degree] - 1)
    columns = {name: rng.normal(size=n).astype(np.float32) for name in SPLAT[:3]}
    if normals:
        columns |= {name: np.zeros(n, np.float32) for name in ("nx", "ny", "nz")}
    columns |= {name: rng.normal(size=n).astype(np.float32) for name in SPLAT[3:6]}
    columns |= {f"f_rest_{i}": (i + 1000 * np.arange(n)).astype(np.float32) for i in range(rest)}
    columns |= {name: rng.normal(size=n).astype(np.float32) for name in SPLAT[6:]}
    return columns


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_is_bit_exact(tmp_path, degree):
    scene = random_gaussians(37, degree, seed=degree)
    scene.means[0, 0] = -0.0
    scene.log_scales[1, 2] = 1e-40  # a subnormal float32
    path = write_ply(scene, tmp_path / "scene.ply")
    back = read_ply(path)
    for field in FIELDS:
        assert torch.equal(getattr(back, field), getattr(scene, field)), field
    assert torch.signbit(back.means[0, 0]) and back.log_scales[1, 2] != 0
    write_ply(back, tmp_path / "again.ply")
    assert (tmp_path / "again.ply").read_bytes() == path.read_bytes()


def test_written_file_has_the_standard_layout(tmp_path):
    scene = random_gaussians(5, 1)
    ply = plyfile.PlyData.read(str(write_ply(scene, tmp_path / "scene.ply")))
    header = (tmp_path / "scene.ply").read_bytes().split(b"end_header")[0].decode()
    assert "format binary_little_endian 1.0" in header and [e.name for e in ply.elements] == ["vertex"]
    names = [p.name for p in ply["vertex"].properties]
    assert names == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2",
                     *[f"f_rest_{i}" for i in range(9)], "opacity", "scale_0", "scale_1", "scale_2",
                     "rot_0", "rot_1", "rot_2", "rot_3"]
    assert all(p.val_dtype in ("f4", "<f4", "float32", "float") for p in ply["vertex"].properties)
    vertex = ply["vertex"]
    # f_rest is channel-major: the 3 degree-1 coefficients of red, then of green, then of blue
    np.testing.assert_array_equal(vertex["f_rest_1"], scene.sh[:, 2, 0].numpy())
    np.testing.assert_array_equal(vertex["f_rest_3"], scene.sh[:, 1, 1].numpy())
    np.testing.assert_array_equal(vertex["f_rest_8"], scene.sh[:, 3, 2].numpy())
    np.testing.assert_array_equal(vertex["opacity"], scene.opacity_logits.numpy())
    np.testing.assert_array_equal(vertex["rot_0"], scene.quaternions[:, 0].numpy())


@pytest.mark.parametrize("degree", [0, 3])
def test_trainer_files_load_unchanged(tmp_path, degree):
    columns = inria_columns(6, degree)
    write_vertices(tmp_path / "inria.ply", columns)
    scene = read_ply(tmp_path / "inria.ply")
    assert scene.degree == degree and len(scene) == 6
    np.testing.assert_array_equal(scene.means[:, 1].numpy(), columns["y"])
    np.testing.assert_array_equal(scene.sh[:, 0, 2].numpy(), columns["f_dc_2"])
    np.testing.assert_array_equal(scene.log_scales[:, 1].numpy(), columns["scale_1"])
    np.testing.assert_array_equal(scene.quaternions[:, 3].numpy(), columns["rot_3"])
    if degree:  # sh[v, 1 + k, c] = f_rest_{c·15 + k}
        assert scene.sh[4, 1 + 7, 2].item() == 2 * 15 + 7 + 4000


def test_files_without_normals_with_extra_properties_other_elements_or_encodings_load(tmp_path):
    columns = inria_columns(4, 1, normals=False)
    extra = columns | {"red": np.arange(4, dtype=np.uint8), "semantic": np.ones(4, np.float64)}
    cameras = plyfile.PlyElement.describe(np.zeros(2, dtype=[("fx", "<f4")]), "camera")
    write_vertices(tmp_path / "extra.ply", extra, extra_elements=[cameras])
    write_vertices(tmp_path / "big.ply", columns, byte_order=">")
    write_vertices(tmp_path / "text.ply", columns, text=True)
    reference = read_ply(tmp_path / "extra.ply")
    for name in ("big.ply", "text.ply"):
        scene = read_ply(tmp_path / name)
        for field in FIELDS:
            torch.testing.assert_close(getattr(scene, field), getattr(reference, field), rtol=1e-6, atol=1e-6)


def refused(path) -> str:
    with pytest.raises(KinemaInputError) as caught:
        read_ply(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_files_that_are_not_ply_are_refused(tmp_path):
    (tmp_path / "text.ply").write_text("hello, not a point cloud\n")
    (tmp_path / "empty.ply").write_bytes(b"")
    (tmp_path / "noise.ply").write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    write_vertices(tmp_path / "whole.ply", inria_columns(50, 0))
    (tmp_path / "cut.ply").write_bytes((tmp_path / "whole.ply").read_bytes()[:-100])
    for name in ("text.ply", "empty.ply", "noise.ply", "cut.ply"):
        assert "not a readable PLY file" in refused(tmp_path / name)
    assert "not found" in refused(tmp_path / "missing.ply")
    assert "directory" in refused(tmp_path)


def test_ply_files_that_are_not_splat_scenes_are_refused_listing_what_is_missing(tmp_path):
    write_vertices(tmp_path / "points.ply", {"x": np.zeros(3, np.float32), "y": np.zeros(3, np.float32),
                                             "z": np.zeros(3, np.float32), "red": np.zeros(3, np.uint8)})
    message = refused(tmp_path / "points.ply")
    assert "not a Gaussian-splatting scene" in message
    assert "f_dc_0" in message and "opacity" in message and "rot_3" in message and "x," not in message
    faces = plyfile.PlyElement.describe(np.zeros(1, dtype=[("vertex_indices", "O")]), "face",
                                        val_types={"vertex_indices": "i4"})
    plyfile.PlyData([faces]).write(str(tmp_path / "faces.ply"))
    assert "without a 'vertex' element" in refused(tmp_path / "faces.ply")


def test_non_finite_values_are_refused_naming_the_property(tmp_path):
    for bad, name in ((np.nan, "scale_1"), (np.inf, "opacity"), (-np.inf, "x")):
        columns = inria_columns(5, 1)
        columns[name][3] = bad
        write_vertices(tmp_path / "bad.ply", columns)
        message = refused(tmp_path / "bad.ply")
        assert "NaN or infinite" in message and f"{name} (1 of 5)" in message


def test_an_empty_scene_is_refused(tmp_path):
    write_vertices(tmp_path / "empty.ply", inria_columns(0, 0))
    assert "holds no Gaussians" in refused(tmp_path / "empty.ply")


def test_an_f_rest_count_of_no_sh_degree_is_refused(tmp_path):
    columns = inria_columns(3, 1)
    write_vertices(tmp_path / "ten.ply", columns | {"f_rest_9": np.zeros(3, np.float32)})
    assert "10 f_rest properties" in refused(tmp_path / "ten.ply")
    gap = {name: v for name, v in columns.items() if name != "f_rest_4"} | {"f_rest_9": np.zeros(3, np.float32)}
    write_vertices(tmp_path / "gap.ply", gap)
    assert "numbered" in refused(tmp_path / "gap.ply")
    degree4 = inria_columns(3, 3) | {f"f_rest_{i}": np.zeros(3, np.float32) for i in range(45, 72)}
    write_vertices(tmp_path / "degree4.ply", degree4)
    assert "72 f_rest properties" in refused(tmp_path / "degree4.ply")


def test_writing_non_finite_gaussians_fails_and_leaves_no_file(tmp_path):
    scene = random_gaussians(4, 0)
    scene.means[2, 1] = float("nan")
    with pytest.raises(ValueError, match="x|y|z"):
        write_ply(scene, tmp_path / "scene.ply")
    assert list(tmp_path.iterdir()) == []
