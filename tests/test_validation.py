"""Request validation helpers (meet_external/validation.py): field names and compiled validators."""

import subprocess
import sys

import pytest
from jsonschema import Draft4Validator

from meet_external import validation

from .conftest import TOKEN_URL


@pytest.mark.parametrize("required, instance, field", [
    (["client_id", "scope"], {"scope": "x"}, "client_id"),
    (["client_id", "scope"], {"client_id": "x"}, "scope"),
    (["it's", "b"], {}, "it's"),
    (['say "hi"'], {}, 'say "hi"'),
])
def test_the_missing_field_is_read_from_the_schema_not_the_message(required, instance, field):
    errors = list(Draft4Validator({"type": "object", "required": required}).iter_errors(instance))
    assert validation.field_of(errors[0]) == field


def test_the_first_missing_field_of_the_file_is_named(client):
    response = client.post(TOKEN_URL, json={"grant_type": "client_credentials"})
    assert response.json() == {"error": "client_id: This field is required."}


def test_one_compiled_validator_per_schema_object():
    schema, same_content = {"type": "integer"}, {"type": "integer"}
    validator = validation._schema_validator(schema)
    assert validation._schema_validator(schema) is validator
    assert validation._schema_validator(same_content) is not validator
    assert validator.schema is schema


def test_validation_does_not_depend_on_the_grant():
    """The request layer names the email message without importing the grant logic."""
    code = "import sys, meet_external.validation; print('meet_external.grant' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
