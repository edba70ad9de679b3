"""docs/: the API reference is what tools/api_reference.py generates from the docstrings, and the links hold."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

import weightnoise

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def generator():
    """tools/api_reference.py, imported from its path (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("api_reference", ROOT / "tools" / "api_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


@pytest.fixture(scope="module")
def generated(generator) -> str:
    pytest.importorskip("sklearn")  # the reference documents weightnoise.sklearn
    return generator.render()


def test_api_reference_is_up_to_date(generated):
    current = (DOCS / "api.md").read_text(encoding="utf-8")
    assert current == generated, "docs/api.md is out of date: run python tools/api_reference.py"


def test_api_reference_covers_every_public_name(generated):
    headings = set(re.findall(r"^#+ (\S+)$", generated, flags=re.MULTILINE))
    expected = {f"weightnoise.{name}" for name in weightnoise.__all__}
    regressor = "weightnoise.sklearn.WeightNoiseRegressor"
    expected |= {"weightnoise.from_torch", "weightnoise.to_torch", regressor, f"{regressor}.fit",
                 f"{regressor}.predict"}
    expected |= {f"weightnoise.reference.{name}" for name in ("predict", "penalty_grad", "perturbed_loss")}
    assert expected - headings == set()


def test_api_reference_anchors_resolve(generator, generated):
    headings = re.findall(r"^#+ (.+)$", generated, flags=re.MULTILINE)
    anchors = set()
    for heading in headings:
        base, count = generator.slug(heading), 1
        anchor = base
        while anchor in anchors:
            anchor, count = f"{base}-{count}", count + 1
        anchors.add(anchor)
    links = re.findall(r"\]\(#([^)]+)\)", generated)
    assert links and set(links) <= anchors


@pytest.mark.parametrize("page", ["README.md", "docs/api.md", "docs/mathematics.md", "docs/performance.md"])
def test_relative_links_point_to_files(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert ((ROOT / page).parent / target).exists(), f"{page} links to missing {target}"


def test_readme_lists_the_documentation():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in ("docs/api.md", "docs/mathematics.md", "examples/"):
        assert f"({page})" in readme


def test_mathematics_page_covers_the_expansion_and_the_noise_modes():
    text = (DOCS / "mathematics.md").read_text(encoding="utf-8")
    for term in ("J̃_η = J + η·Ω + η·C + O(η²)", "Ω(θ) = (1/N) Σ_n ‖g_n‖²", "C(θ) = (1/N) Σ_n r_n · tr H_n",
                 "`shared`", "`per_example`", "`local`", "Antithetic", "When the textbook equivalence holds"):
        assert term in text, term

