"""Every public name (``docs/api_names.py``: the ``__all__`` of the package, its subpackages,
the adapters and the nnU-Net trainers) has a docstring, and each public function or method
documents its arguments (``Args:``), what it returns (``Returns:``) and what it raises
(``Raises:``) where it has them: the API reference is generated from these."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

from api_names import DATA_DOCS, is_documented_object, public_names  # noqa: E402

# Methods whose arguments and results are a base class's documented protocol.
_PROTOCOL = {"forward", "segment", "extra_repr", "label_bound", "capturable", "train_step",
             "apply_transform", "apply_transform_mask", "apply_non_transform_mask",
             "generate_parameters", "initialize", "configure_optimizers", "on_train_start",
             "get_training_transforms", "set_deep_supervision_enabled"}  # fmt: skip


def _callables() -> list[tuple[str, object]]:
    out = []
    for module, name, obj in public_names():
        if not is_documented_object(obj):
            continue
        out.append((f"{module}.{name}", obj))
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__call__":
                    continue
                fn = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
                if inspect.isfunction(fn) and fn.__module__.startswith("hsmix_torch"):
                    out.append((f"{module}.{name}.{attr}", fn))
    return out


def _missing(obj: object) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    if not doc.strip():
        return ["a docstring"]
    target = obj.__init__ if inspect.isclass(obj) else obj
    if inspect.isclass(obj) and target is object.__init__:
        return []
    if not inspect.isfunction(target) or target.__name__ in _PROTOCOL:
        return []
    missing = []
    params = [p for n, p in inspect.signature(target).parameters.items()
              if n not in ("self", "cls")]  # fmt: skip
    described = "Args:" in doc or (inspect.isclass(obj) and "Attributes:" in doc)
    if params and not described:
        missing.append("Args:")
    returns = inspect.signature(target).return_annotation
    returns_something = returns not in ("None", None, inspect.Signature.empty)
    if returns_something and not inspect.isclass(obj) and "Returns:" not in doc:
        missing.append("Returns:")
    try:
        source = inspect.getsource(target)
    except OSError:  # made at run time (a dataclass's __init__): its fields are its Args
        source = ""
    if "raise " in source and "Raises:" not in doc:
        missing.append("Raises:")
    return missing


def test_every_public_name_is_documented() -> None:
    gaps = {name: m for name, obj in _callables() if (m := _missing(obj))}
    assert not gaps, "\n".join(f"{n}: {', '.join(m)}" for n, m in sorted(gaps.items()))
    for module, name, obj in public_names():
        if not is_documented_object(obj):
            assert DATA_DOCS[f"{module}.{name}"], name
