"""The options of HSMix: checked once into one immutable value, each default declared once
(HSMix and the kornia adapter take theirs from :class:`HSMixOptions`), each rule written
once in the package, and ``replace`` sharing what it was given."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

from hsmix_torch import HSMix, HSMixOptions
from hsmix_torch.superpixels import get_backend

PACKAGE = Path(__file__).resolve().parents[1] / "hsmix_torch"


def test_defaults_are_declared_once() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(HSMixOptions)}
    signature = inspect.signature(HSMix).parameters
    assert {n: p.default for n, p in signature.items()} == defaults
    kornia = pytest.importorskip("hsmix_torch.kornia")
    for name, p in inspect.signature(kornia.RandomHSMix).parameters.items():
        if name in defaults and name != "output":  # kornia keeps B: "either", not "both"
            assert p.default == defaults[name], name


def test_replace_shares_a_backend_object_and_checks_again() -> None:
    backend = get_backend("grid")
    aug = HSMix(superpixels=backend, num_classes=2)
    other = aug.replace(p_hard=0.5)
    assert other.backend is backend and other.p_hard == 0.5 and aug.p_hard == 0.2
    assert other.training == aug.training
    with pytest.raises(ValueError, match="p_hard"):
        aug.replace(p_hard=2.0)


def test_attributes_are_the_options_typed() -> None:
    aug = HSMix(n_segments=12, spacing=[2, 1])
    assert aug.n_segments == (12, 12) and aug.spacing == (2.0, 1.0)
    assert HSMix.p_hard.__doc__.startswith("The option ``p_hard``")
    hints = inspect.get_annotations(type(aug).__mro__[1])
    assert set(hints) == {f.name for f in dataclasses.fields(HSMixOptions)}


def _literal_tuples(value: tuple[str, ...]) -> list[str]:
    """The package modules whose source holds ``value`` as a tuple literal."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            consts = isinstance(node, ast.Tuple) and all(
                isinstance(e, ast.Constant) for e in node.elts
            )
            if consts and tuple(e.value for e in node.elts) == value:
                found.append(path.name)
    return found


def test_each_rule_is_written_once() -> None:
    """The outputs of a mix, the kernel choices: one declaration each (``_constants``)."""
    assert _literal_tuples(("both", "hard", "soft", "either")) == ["_constants.py"]
    assert _literal_tuples(("auto", "triton", "torch")) == ["_constants.py"]
    source = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))
    assert source.count("must be > 0 or None") == 0  # compactness: check_compactness
    assert source.count("seed must be an int") == 0  # seeds: check_seed
