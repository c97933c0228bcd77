"""Request validation against the file, with short messages that name the field.

Connexion's own validators echo the input in multi-line jsonschema dumps,
reject an empty optional body (connexion#1317) and crash on invalid UTF-8;
these replace them through `validator_map`.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any, Dict, Tuple

from connexion.datastructures import MediaTypeDict
from connexion.validators import AbstractRequestBodyValidator, ParameterValidator
from jsonschema import FormatChecker, ValidationError

from ..errors import INVALID_EMAIL, ApiError, field_error
from ..http.middleware import parse_json, read_body, replay
from ..internals import Draft4RequestValidator, body_required, body_schema
from ..models.tables.fields import storable_text

_INTEGER = re.compile(r"-?[0-9]+")  # with fullmatch: `$` would also match before a final "\n"
_validators: Dict[int, Tuple[dict, Draft4RequestValidator]] = {}
# The token endpoint reports the first failure in the order of docs/contract-decisions.md.
_RANK = {"required": 0, "type": 0, "enum": 1, "format": 2}
# Connexion's format checks (JSON Schema draft 4), but an email must also be text a database
# can store: PostgreSQL refuses NUL, so `a@example.org\x00` would otherwise reach a query
# (the token endpoint's domain check) and fail there (docs/contract-decisions.md).
FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checkers.update(Draft4RequestValidator.FORMAT_CHECKER.checkers)


@FORMAT_CHECKER.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or ("@" in value and storable_text(value))


def _schema_validator(schema: dict) -> Draft4RequestValidator:
    """One compiled validator per schema object (Connexion hands the same one to every request).

    Keyed by identity, and each entry holds its schema, so that id cannot be
    given to another schema (an app built later in the same process) while
    the entry lives; the `is` check says so rather than relying on the
    validator keeping a reference to its schema.
    """
    entry = _validators.get(id(schema))
    if entry is None or entry[0] is not schema:
        # Connexion's request validator: OpenAPI's `nullable` on top of JSON Schema draft 4.
        entry = (schema, Draft4RequestValidator(schema, format_checker=FORMAT_CHECKER))
        _validators[id(schema)] = entry
    return entry[1]


def describe(error: ValidationError) -> str:
    """A one-line message for a schema error that does not repeat the input."""
    schema = error.schema
    if error.validator == "required":
        return "This field is required."
    if error.validator == "type":
        expected = error.validator_value
        article = "an" if str(expected)[0] in "aeiou" else "a"
        return f"Must be {article} {expected}."
    if error.validator == "enum":
        return "Must be one of: " + ", ".join(repr(v) for v in error.validator_value) + "."
    if error.validator == "minimum":
        return f"Ensure this value is greater than or equal to {schema['minimum']}."
    if error.validator == "maximum":
        return f"Ensure this value is less than or equal to {schema['maximum']}."
    if error.validator == "format":
        return f"Must be a valid {error.validator_value}."
    if error.validator == "maxItems":
        return f"Ensure this list has at most {error.validator_value} items."
    if error.validator == "additionalProperties":
        return "Unknown field; the fields are: " + ", ".join(schema.get("properties", {})) + "."
    return "Invalid value."


def validate_object(schema: dict, body: Any) -> None:
    """400 naming the field for the first failure of `body` against `schema` (a JSON object's)."""
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object.")
    errors = list(_schema_validator(schema).iter_errors(body))
    if not errors:
        return
    error = min(errors, key=lambda e: _RANK.get(e.validator, 3))
    if error.validator == "format" and list(error.absolute_path) == ["scope"]:
        raise ApiError(400, INVALID_EMAIL, errors={"scope": [INVALID_EMAIL]})
    raise field_error(field_of(error), describe(error))


class QueryParameterValidator(ParameterValidator):
    """Query and path parameters, with DRF-style messages."""

    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):
        name = param.get("name", param_name)
        schema = param.get("schema", param)
        if value is None:
            if param.get("required"):
                raise field_error(name, "This field is required.")
            return None
        if schema.get("type") == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
            raise field_error(name, "A valid integer is required.")
        if schema.get("format") == "uuid":
            return None  # an id that is not a UUID is simply not found (docs/api-users.md)
        try:
            _schema_validator(schema).validate(value)
        except ValidationError as error:
            raise field_error(name, describe(error)) from None
        return None

    def validate_query_parameter(self, param, request):
        """Integers as written: Python's int() would also take `1_000`, ` 5` or `٣`."""
        schema = param.get("schema", param)
        if schema.get("type") == "integer":
            written = urllib.parse.parse_qs(request.scope["query_string"].decode("latin-1"),
                                            keep_blank_values=True).get(param["name"], [])
            if not all(_INTEGER.fullmatch(value) for value in written):
                raise field_error(param["name"], "A valid integer is required.")
        return super().validate_query_parameter(param, request)


class JSONBodyValidator(AbstractRequestBodyValidator):
    """JSON bodies: strict UTF-8, an object, then the schema."""

    async def wrap_receive(self, receive, *, scope):
        raw = await read_body(scope, receive)
        if raw.strip() or body_required(self):
            validate_object(body_schema(self), self._decode(raw))
        return replay(raw, receive), scope

    def _decode(self, raw: bytes) -> Any:
        if not raw.strip():
            raise ApiError(400, "Request body is required.")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "Request body is not valid UTF-8.") from None
        try:
            return parse_json(text)
        except RecursionError:
            raise ApiError(400, "Request body is nested too deeply.") from None
        except ValueError:
            raise ApiError(400, "Request body is not valid JSON.") from None


def field_of(error: ValidationError) -> str:
    """The field a schema error is about; for `required`, the first listed one that is missing."""
    if error.validator == "required":
        return next(name for name in error.validator_value if name not in error.instance)
    return ".".join(str(p) for p in error.absolute_path) or "body"


VALIDATOR_MAP = {
    "parameter": QueryParameterValidator,
    "body": MediaTypeDict({"*/*json": JSONBodyValidator}),
}
