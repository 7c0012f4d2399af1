"""The bundle manifest: a strict typed contract with a committed JSON Schema."""

import copy
import json

import jsonschema
import pytest

from mobilevid.errors import MobilevidError
from mobilevid.export.manifest import (
    MANIFEST_NAME,
    SCHEMA_FILE,
    manifest_json_schema,
    parse_manifest,
    read_manifest,
)


def test_committed_schema_is_the_generated_one():
    # Regenerate with: python -m mobilevid.export.manifest
    assert json.loads(SCHEMA_FILE.read_text()) == manifest_json_schema()


def test_exported_manifest_validates_against_the_schema(onnx_bundle):
    data = json.loads((onnx_bundle / MANIFEST_NAME).read_text())
    jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text()))
    assert set(data) >= {"provenance", "diagnostics"} and "parity" not in data["components"]["denoiser"]
    assert parse_manifest(data).to_json() == data


def _mutated(data, path, value):
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize("path, value, message", [
    (("schema_version",), 1, "unsupported schema"),
    (("components",), KeyError, "components"),
    (("sampler", "sigmas"), KeyError, "sigmas"),
    (("sampler", "sigmas"), "0.5", "sigmas"),
    (("sampler", "sigmas"), [1.0, 0.5], "steps \\+ 1"),
    (("sampler", "guidance_scale"), float("nan"), "finite"),
    (("components", "denoiser", "inputs", 0, "shape"), [1, 16, 4, 8, 9], "sample input"),
    (("noise", "shape"), [16, 4, 8], "noise.shape"),
    (("components", "text_encoder", "inputs", 0, "shape"), [1, 64], "max_length"),
    (("sampler", "colour"), "red", "unknown manifest key"),
    (("noise", "generator"), "numpy", "generator"),
])
def test_bad_manifests_are_one_line_errors(onnx_bundle, path, value, message):
    data = json.loads((onnx_bundle / MANIFEST_NAME).read_text())
    with pytest.raises(MobilevidError, match=message) as err:
        parse_manifest(_mutated(data, path, value), onnx_bundle / MANIFEST_NAME)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("entry", ["/etc/hostname", "../outside.onnx", "tokenizer/../../x"])
def test_file_entries_must_stay_inside_the_bundle(onnx_bundle, tmp_path, entry):
    data = json.loads((onnx_bundle / MANIFEST_NAME).read_text())
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (tmp_path / "outside.onnx").write_bytes(b"x")
    data["components"]["text_encoder"]["files"] = [entry]
    (bundle / MANIFEST_NAME).write_text(json.dumps(data))
    with pytest.raises(MobilevidError, match="outside the bundle"):
        read_manifest(bundle)


def test_a_missing_file_is_named(onnx_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / MANIFEST_NAME).write_text((onnx_bundle / MANIFEST_NAME).read_text())
    with pytest.raises(MobilevidError, match="incomplete: text_encoder file"):
        read_manifest(bundle)


def test_schema_drift_is_caught(onnx_bundle, monkeypatch):
    # The typed parse and the committed schema must agree; a schema that refuses a valid manifest is an error.
    import mobilevid.export.manifest as manifest_module

    data = json.loads((onnx_bundle / MANIFEST_NAME).read_text())
    schema = json.loads(SCHEMA_FILE.read_text())
    schema["properties"]["video"]["properties"]["fps"] = {"type": "string"}
    manifest_module._schema_validator.cache_clear()
    monkeypatch.setattr(manifest_module, "_schema_validator",
                        lambda: jsonschema.Draft202012Validator(schema))
    with pytest.raises(MobilevidError, match="does not follow manifest.schema.json at video/fps"):
        parse_manifest(data)
