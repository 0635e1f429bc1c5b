"""Validates request JSON files against MediaConvert's API model as shipped in botocore.

    python validate_mediaconvert.py OPERATION FILE...

OPERATION is CreateJob or CreateJobTemplate. botocore's own parameter validator checks
member names, required members, types and minimums; enumerations and maximums, which it
leaves to the service, are checked here from the same model. Prints `ok` or the errors,
one per line, and exits 1 on any.
"""

import json
import sys

import botocore.session
from botocore.validate import ParamValidator


def walk(value, shape, path, errors):
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for key, member in value.items():
            if key in shape.members:
                walk(member, shape.members[key], f"{path}.{key}", errors)
    elif kind == "list" and isinstance(value, list):
        for i, member in enumerate(value):
            walk(member, shape.member, f"{path}[{i}]", errors)
    elif kind == "map" and isinstance(value, dict):
        for key, member in value.items():
            walk(member, shape.value, f"{path}.{key}", errors)
    elif kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {shape.enum}")
        top = shape.metadata.get("max")
        if top is not None and len(value) > top:
            errors.append(f"{path}: longer than {top}")
    elif kind in ("integer", "long", "double") and isinstance(value, (int, float)):
        top = shape.metadata.get("max")
        if top is not None and value > top:
            errors.append(f"{path}: {value} is above the maximum {top}")


def main():
    operation, files = sys.argv[1], sys.argv[2:]
    model = botocore.session.get_session().get_service_model("mediaconvert")
    shape = model.operation_model(operation).input_shape
    failed = False
    for name in files:
        with open(name) as f:
            params = json.load(f)
        errors = []
        report = ParamValidator().validate(params, shape)
        if report.has_errors():
            errors.append(report.generate_report())
        walk(params, shape, "", errors)
        if errors:
            failed = True
            print(f"{name}:")
            for e in errors:
                print(f"  {e}")
    if failed:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
