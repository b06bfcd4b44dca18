"""Datasets with known topology: image manifolds with exact renderers, and point clouds.

>>> from topolib.datasets import get_dataset
>>> torus = get_dataset("torus")
>>> images, params = torus.sample(1000, seed=0)   # (1000, 32, 32), (1000, 2)
"""

from topolib.datasets.base import ImageManifold
from topolib.datasets.circle import Circle
from topolib.datasets.disk import Disk
from topolib.datasets.klein import KleinBottle
from topolib.datasets.point_clouds import (
    POINT_CLOUD_BETTI,
    POINT_CLOUDS,
    circle_points,
    klein_points,
    sphere_points,
    stratified_points,
    torus_points,
)
from topolib.datasets.projective import ProjectivePlane
from topolib.datasets.registry import DATASET_NAMES, DATASETS, get_dataset
from topolib.datasets.sphere import Sphere
from topolib.datasets.torch_dataset import ManifoldImages
from topolib.datasets.torus import Torus
from topolib.datasets.two_circles import TwoCircles

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "POINT_CLOUDS",
    "POINT_CLOUD_BETTI",
    "Circle",
    "Disk",
    "ImageManifold",
    "KleinBottle",
    "ManifoldImages",
    "ProjectivePlane",
    "Sphere",
    "Torus",
    "TwoCircles",
    "circle_points",
    "get_dataset",
    "klein_points",
    "sphere_points",
    "stratified_points",
    "torus_points",
]
