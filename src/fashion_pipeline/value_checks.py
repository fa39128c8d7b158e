"""Checkers of params.yaml values, shared by every section's schema.

Each checker takes (key, value) and raises ParamsError naming the key, the value found and what
is allowed; a schema is a mapping of key -> checker, or of key -> schema for a nested section.
"""

from fashion_pipeline.errors import ParamsError


def integer(minimum):
    def check(key, value):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ParamsError(key, value, f"an integer >= {minimum}")

    return check


def number(low, high, *, include_low=True, include_high=False):
    left, right = ("[" if include_low else "("), ("]" if include_high else ")")

    def check(key, value):
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        above = numeric and (value >= low if include_low else value > low)
        below = numeric and (value <= high if include_high else value < high)
        if not (above and below):
            raise ParamsError(key, value, f"a number in {left}{low}, {high}{right}")

    return check


def choice(options):
    def check(key, value):
        if value not in options:
            raise ParamsError(key, value, "one of " + ", ".join(options))

    return check


def boolean(key, value):
    if not isinstance(value, bool):
        raise ParamsError(key, value, "true or false")


def text(key, value):
    if not isinstance(value, str) or not value.strip():
        raise ParamsError(key, value, "a non-empty string")


def check_keys(prefix, mapping, required, optional=()):
    known = [*required, *optional]
    if not isinstance(mapping, dict):
        raise ParamsError(prefix, mapping, "a mapping with keys " + ", ".join(known))
    for key, value in mapping.items():
        if key not in known:
            raise ParamsError(f"{prefix}{key}", value, "known keys: " + ", ".join(known))
    for key in required:
        if key not in mapping:
            raise ParamsError(f"{prefix}{key}", "<missing>", "a value must be set")


def validate_section(prefix, mapping, schema, optional=None):
    optional = optional or {}
    check_keys(prefix, mapping, list(schema), list(optional))
    for key, check in {**schema, **optional}.items():
        if isinstance(check, dict):
            validate_section(f"{prefix}{key}.", mapping[key], check)
        elif check is not None and key in mapping:
            check(f"{prefix}{key}", mapping[key])


def mapping_of(check, what):
    """A non-empty mapping of name -> a value that passes `check`."""
    def check_mapping(key, value):
        if not isinstance(value, dict) or not value:
            raise ParamsError(key, value, f"a mapping of name -> {what}")
        for name, item in value.items():
            check(f"{key}.{name}", item)

    return check_mapping


def section_of(schema, what):
    """A mapping with exactly the keys of `schema`, each value passing its check."""
    def check_section(key, value):
        if not isinstance(value, dict):
            raise ParamsError(key, value, f"a mapping {what}")
        validate_section(f"{key}.", value, schema)

    return check_section


def distinct_list(check, what, empty=False):
    """A list of distinct values, each passing `check`; non-empty unless `empty`."""
    def check_list(key, value):
        if not isinstance(value, list) or not (value or empty) or len(set(map(repr, value))) != len(value):
            raise ParamsError(key, value, f"a {'' if empty else 'non-empty '}list of distinct {what}")
        for index, item in enumerate(value):
            check(f"{key}[{index}]", item)

    return check_list
