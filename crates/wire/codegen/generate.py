#!/usr/bin/env python3
"""Generates Rust types and validators from the AWS service models.

The models in shared/spec/models are the authority for every member name and
constraint, so no member name is typed by hand: run this after changing the
operation list below, and commit the output (src/generated/*.rs).

    python3 crates/wire/codegen/generate.py [path/to/shared/spec/models]

`scripts/test` re-runs it and fails when the checked-in output differs.
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "src", "generated")

SERVICES = {
    "cloudtrail": ("cloudtrail/2013-11-01/service-2.json", [
        "CreateEventDataStore", "GetEventDataStore", "ListEventDataStores",
        "UpdateEventDataStore", "DeleteEventDataStore", "RestoreEventDataStore",
        "CreateChannel", "GetChannel", "ListChannels", "UpdateChannel", "DeleteChannel",
        "PutResourcePolicy", "GetResourcePolicy", "DeleteResourcePolicy",
        "StartQuery", "DescribeQuery", "GetQueryResults", "ListQueries", "CancelQuery",
    ]),
    "cloudtrail_data": ("cloudtrail-data/2021-08-11/service-2.json", ["PutAuditEvents"]),
}


def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s).lower()
    return {"type": "r#type", "match": "r#match", "ref": "r#ref"}.get(s, s)


def rust_type(model, shape_name, needed):
    shape = model["shapes"][shape_name]
    t = shape["type"]
    if t == "string":
        return "String"
    if t == "boolean":
        return "bool"
    if t in ("integer", "long"):
        return "i64"
    if t in ("double", "float"):
        return "f64"
    if t == "timestamp":
        return "f64"  # awsJson/restJson: epoch seconds as a JSON number
    if t == "list":
        return "Vec<%s>" % rust_type(model, shape["member"]["shape"], needed)
    if t == "map":
        return "BTreeMap<String, %s>" % rust_type(model, shape["value"]["shape"], needed)
    if t == "structure":
        needed.add(shape_name)
        return shape_name
    raise ValueError("unsupported shape type %s for %s" % (t, shape_name))


def checks(model, shape_name, path, expr, depth=0):
    """Rust statements validating `expr` (a reference to a value of shape_name)."""
    shape = model["shapes"][shape_name]
    t = shape["type"]
    out = []
    if t == "string":
        if "min" in shape:
            out.append('v.min_len(%s, "%s", %d);' % (expr, path, shape["min"]))
        if "max" in shape:
            out.append('v.max_len(%s, "%s", %d);' % (expr, path, shape["max"]))
        if "enum" in shape:
            out.append('v.one_of(%s, "%s", &[%s]);' % (expr, path, ", ".join('"%s"' % e for e in shape["enum"])))
        if "pattern" in shape:
            out.append('v.pattern(%s, "%s", %s);' % (expr, path, json.dumps(shape["pattern"])))
    elif t in ("integer", "long"):
        if "min" in shape:
            out.append('v.min_num(*%s, "%s", %d);' % (expr, path, shape["min"]))
        if "max" in shape:
            out.append('v.max_num(*%s, "%s", %d);' % (expr, path, shape["max"]))
    elif t == "list":
        if "min" in shape:
            out.append('v.min_items(%s.len(), "%s", %d);' % (expr, path, shape["min"]))
        if "max" in shape:
            out.append('v.max_items(%s.len(), "%s", %d);' % (expr, path, shape["max"]))
        item = "item%d" % depth
        inner = checks(model, shape["member"]["shape"], path + ".member", item, depth + 1)
        if inner:
            out.append("for %s in %s.iter() {" % (item, expr))
            out.extend("    " + line for line in inner)
            out.append("}")
    elif t == "map":
        val = "val%d" % depth
        inner = checks(model, shape["value"]["shape"], path + ".value", val, depth + 1)
        if inner:
            out.append("for %s in %s.values() {" % (val, expr))
            out.extend("    " + line for line in inner)
            out.append("}")
    elif t == "structure":
        out.append("%s.validate_into(v, \"%s\");" % (expr, path))
    return out


def generate(models_dir, module, rel, ops):
    model = json.load(open(os.path.join(models_dir, rel)))
    needed = set()
    for op in ops:
        o = model["operations"][op]
        for k in ("input", "output"):
            if k in o:
                needed.add(o[k]["shape"])
    done = set()
    structs = []
    while needed - done:
        name = sorted(needed - done)[0]
        done.add(name)
        shape = model["shapes"][name]
        if shape.get("exception"):
            continue
        required = set(shape.get("required", []))
        fields, validators = [], []
        for member, spec in shape.get("members", {}).items():
            if spec.get("location") in ("querystring", "header", "uri"):
                loc = spec.get("locationName", member)
                fields.append("    /// Sent in the %s as `%s`.\n    #[serde(skip)]\n    pub %s: Option<%s>," % (
                    spec["location"], loc, snake(member), rust_type(model, spec["shape"], needed)))
            else:
                wire_name = spec.get("locationName", member)
                fields.append('    #[serde(rename = "%s", skip_serializing_if = "Option::is_none")]\n    pub %s: Option<%s>,' % (
                    wire_name, snake(member), rust_type(model, spec["shape"], needed)))
            field = "self.%s" % snake(member)
            body = checks(model, spec["shape"], "%s", "x")
            if member in required:
                validators.append('if %s.is_none() { v.missing(path, "%s"); }' % (field, member))
            if body:
                validators.append("if let Some(x) = &%s {" % field)
                validators.append('    let p = format!("{path}.%s");' % member)
                for line in body:
                    validators.append("    " + fix_path(line))
                validators.append("}")
        structs.append((name, fields, validators))
    lines = [
        "// @generated by crates/wire/codegen/generate.py from shared/spec/models/%s. Do not edit." % rel,
        "#![allow(clippy::all, missing_docs)]",
        "use serde::{Deserialize, Serialize};",
        "#[allow(unused_imports)]",
        "use std::collections::BTreeMap;",
        "use crate::validate::Validator;",
        "",
    ]
    for name, fields, validators in sorted(structs):
        lines.append("#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]")
        lines.append("pub struct %s {" % name)
        lines.extend(fields)
        lines.append("}")
        lines.append("")
        lines.append("impl %s {" % name)
        lines.append("    /// Checks the model's constraints: required members, lengths, ranges, enums, patterns.")
        lines.append("    pub fn validate_into(&self, v: &mut Validator, path: &str) {")
        lines.append("        let _ = (&v, path);")
        for line in validators:
            lines.append("        " + line)
        lines.append("    }")
        lines.append("}")
        lines.append("")
    path = os.path.join(OUT, module + ".rs")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    # Format like the rest of the tree, so `cargo fmt --check` stays clean.
    subprocess.run(["rustfmt", "--edition", "2021", path], check=True)


def fix_path(line):
    # checks() writes the path as a literal "%s…" suffix; turn it into `&format!("{p}…")`.
    def repl(m):
        suffix = m.group(1)
        return '&format!("{p}%s")' % suffix if suffix else "&p"
    return re.sub(r'"%s([^"]*)"', repl, line)


def main():
    models_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "..", "shared", "spec", "models")
    os.makedirs(OUT, exist_ok=True)
    for module, (rel, ops) in SERVICES.items():
        generate(models_dir, module, rel, ops)


if __name__ == "__main__":
    main()
