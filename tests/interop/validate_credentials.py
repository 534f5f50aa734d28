"""Validates credentials against the Traceability Vocabulary's JSON schemas with python-jsonschema.

Usage: validate_credentials.py FILE...  Prints one JSON line per file: {"file", "type", "errors": [{"path",
"validator"}]}. The schema is chosen by the credential's second `type`; `$ref`s resolve against the copies in
tests/interop/traceability/ (laid out as in the vocabulary's repository). Formats (`uri`, `date-time`, `date`)
are checked too. Exits 2 if a file names no known credential type.
"""

import json
import pathlib
import sys

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

HERE = pathlib.Path(__file__).resolve().parent / "traceability"
SCHEMAS = {
    "USMCACertificationOfOrigin": HERE / "credentials" / "USMCACertificationOfOrigin.yml",
    "CertificationOfOrigin": HERE / "credentials" / "CertificationOfOrigin.yml",
}


def load(uri):
    path = pathlib.Path(uri.removeprefix("file://"))
    return Resource.from_contents(yaml.safe_load(path.read_text()), default_specification=DRAFT202012)


def validator_for(kind):
    path = SCHEMAS[kind]
    schema = yaml.safe_load(path.read_text())
    schema["$id"] = path.as_uri()
    return jsonschema.Draft202012Validator(
        schema,
        registry=Registry(retrieve=load),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def main():
    for name in sys.argv[1:]:
        credential = json.loads(pathlib.Path(name).read_text())
        types = credential.get("type") if isinstance(credential, dict) else None
        kind = next((t for t in types or [] if t in SCHEMAS), None) if isinstance(types, list) else None
        if kind is None:
            print(json.dumps({"file": name, "type": None, "errors": []}))
            sys.exit(2)
        errors = [
            {"path": "/" + "/".join(str(p) for p in e.absolute_path), "validator": e.validator}
            for e in validator_for(kind).iter_errors(credential)
        ]
        print(json.dumps({"file": name, "type": kind, "errors": errors}))


if __name__ == "__main__":
    main()
