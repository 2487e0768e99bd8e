"""isotope: keyed watermarks for language-model outputs, exact detection, and
audits of suspect models -- the C++ library, one import away.

    import isotope
    key = isotope.load_key("provider.key")          # or isotope.Key.generate()
    processor = isotope.WatermarkLogitsProcessor(key)  # Hugging Face LogitsProcessor protocol
    detector = isotope.Detector(key)
    detector.detect("some text")["log10_p"]

Every function that takes a key also takes the path of a key file. Errors are
raised as ValueError, TypeError, OSError or PermissionError; exceptions that
come from the library carry the library's error name in ``exc.code``.
See docs/python.md.
"""

from ._core import (
    KEY_BYTES,
    ROUTE_ALPHA_DEFAULT,
    ROUTE_ALPHA_NESTED_DEFAULT,
    Detector,
    Key,
    NgramModel,
    Profile,
    Rng,
    Tokenizer,
    __version__,
    account_key,
    argmax_rows,
    data_dir,
    default_model_path,
    default_tokenizer_path,
    holm,
    load_key,
    sample_plain,
    prf_values,
    route_alpha_default,
    schemes,
)
from ._processor import WatermarkLogitsProcessor, watermark_sample
from ._audit import audit_closed, audit_open, predictions_from_callable

__all__ = [
    "KEY_BYTES",
    "ROUTE_ALPHA_DEFAULT",
    "ROUTE_ALPHA_NESTED_DEFAULT",
    "route_alpha_default",
    "Detector",
    "Key",
    "NgramModel",
    "Profile",
    "Rng",
    "Tokenizer",
    "WatermarkLogitsProcessor",
    "__version__",
    "account_key",
    "argmax_rows",
    "audit_closed",
    "audit_open",
    "data_dir",
    "default_model_path",
    "default_tokenizer_path",
    "holm",
    "load_key",
    "predictions_from_callable",
    "sample_plain",
    "prf_values",
    "schemes",
    "watermark_sample",
]
