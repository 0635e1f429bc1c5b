"""Validates JSON files against MediaConvert's API model as shipped in botocore.

    python validate_mediaconvert.py [--service NAME] OPERATION FILE...
    python validate_mediaconvert.py [--service NAME] --wire-output OPERATION FILE...

The first form checks requests (PascalCase, as the console and the CLI write them) of
OPERATION, such as CreateJob or CreateJobTemplate: botocore's own parameter validator
checks member names, required members, types and minimums; enumerations and maximums,
which it leaves to the service, are checked here from the same model.

The second checks responses of OPERATION, such as Probe, as they go over the wire
(camelCase): every key must be a member's wire name, and every value of its member's
type, within its enumeration and bounds.

`--service` picks another service's model than MediaConvert's (`medialive` for a
channel's CreateChannel request).

Prints `ok` or the errors, one per line, and exits 1 on any.
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


def wire(value, shape, path, errors):
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object")
            return
        names = {m.serialization.get("name", k): m for k, m in shape.members.items()}
        for key, member in value.items():
            if key not in names:
                errors.append(f"{path}: {key!r} is not a member of {shape.name}")
            else:
                wire(member, names[key], f"{path}.{key}", errors)
    elif kind == "list":
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list")
            return
        for i, member in enumerate(value):
            wire(member, shape.member, f"{path}[{i}]", errors)
    elif kind == "map":
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object")
            return
        for key, member in value.items():
            wire(member, shape.value, f"{path}.{key}", errors)
    elif kind == "string":
        if not isinstance(value, str):
            errors.append(f"{path}: expected a string, got {value!r}")
        elif shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {shape.enum}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{path}: expected an integer, got {value!r}")
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append(f"{path}: expected a number, got {value!r}")
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append(f"{path}: expected Unix seconds, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected true or false, got {value!r}")


def request_errors(params, shape):
    errors = []
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        errors.append(report.generate_report())
    walk(params, shape, "", errors)
    return errors


def response_errors(doc, shape):
    errors = []
    wire(doc, shape, "", errors)
    return errors


def main():
    args = sys.argv[1:]
    service = "mediaconvert"
    if args[0] == "--service":
        service, args = args[1], args[2:]
    model = botocore.session.get_session().get_service_model(service)
    if args[0] == "--wire-output":
        operation, files = args[1], args[2:]
        shape = model.operation_model(operation).output_shape
        check = response_errors
    else:
        operation, files = args[0], args[1:]
        shape = model.operation_model(operation).input_shape
        check = request_errors
    failed = False
    for name in files:
        with open(name) as f:
            errors = check(json.load(f), shape)
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
