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
        "StartEventDataStoreIngestion", "StopEventDataStoreIngestion",
        "LookupEvents",
        "StartImport", "GetImport", "ListImports", "ListImportFailures", "StopImport",
    ]),
    "cloudtrail_data": ("cloudtrail-data/2021-08-11/service-2.json", ["PutAuditEvents"]),
}

# awsQuery services: module -> (model, QueryService variant, operations).
QUERY_SERVICES = {
    "iam": ("iam/2010-05-08/service-2.json", "Iam", [
        "CreateUser", "GetUser", "ListUsers", "DeleteUser",
        "CreateGroup", "GetGroup", "ListGroups", "DeleteGroup",
        "AddUserToGroup", "RemoveUserFromGroup", "ListGroupsForUser",
        "CreateRole", "GetRole", "ListRoles", "DeleteRole", "UpdateAssumeRolePolicy",
        "PutUserPolicy", "GetUserPolicy", "DeleteUserPolicy", "ListUserPolicies",
        "PutGroupPolicy", "GetGroupPolicy", "DeleteGroupPolicy", "ListGroupPolicies",
        "PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy", "ListRolePolicies",
        "CreatePolicy", "GetPolicy", "DeletePolicy", "ListPolicies",
        "GetPolicyVersion", "CreatePolicyVersion", "ListPolicyVersions",
        "DeletePolicyVersion", "SetDefaultPolicyVersion",
        "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy",
        "AttachRolePolicy", "DetachRolePolicy",
        "ListAttachedUserPolicies", "ListAttachedGroupPolicies", "ListAttachedRolePolicies",
        "PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary",
        "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary",
        "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey",
        "TagUser", "UntagUser", "ListUserTags", "TagRole", "UntagRole", "ListRoleTags",
        "SimulatePrincipalPolicy", "SimulateCustomPolicy",
    ]),
    "sts": ("sts/2011-06-15/service-2.json", "Sts", [
        "GetCallerIdentity", "AssumeRole", "GetSessionToken",
    ]),
}

# String shapes that IAM returns URL-encoded (percent-encoded JSON), and that
# botocore therefore url-decodes and JSON-parses: its handlers.py
# `json_decode_policies` (registered for `after-call.iam`) applies to every
# member whose shape is named `policyDocumentType`. Responses only; requests
# carry the plain JSON.
URL_ENCODED_OUTPUT_SHAPES = {"iam": {"policyDocumentType"}}


def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s).lower()
    return {"type": "r#type", "match": "r#match", "ref": "r#ref"}.get(s, s)


def rust_type(model, shape_name, needed, timestamp="f64"):
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
        # awsJson/restJson: epoch seconds as a JSON number (f64);
        # awsQuery: the ISO 8601 text itself (String).
        return timestamp
    if t == "list":
        return "Vec<%s>" % rust_type(model, shape["member"]["shape"], needed, timestamp)
    if t == "map":
        return "BTreeMap<String, %s>" % rust_type(model, shape["value"]["shape"], needed, timestamp)
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
    write_rust(module, lines)


def fix_path(line):
    # checks() writes the path as a literal "%s…" suffix; turn it into `&format!("{p}…")`.
    def repl(m):
        suffix = m.group(1)
        return '&format!("{p}%s")' % suffix if suffix else "&p"
    return re.sub(r'"%s([^"]*)"', repl, line)


def lower_camel(name):
    """How AWS's awsQuery validation messages name a member: 'userName',
    'tags.1.member.key' (the first character lower-cased)."""
    return name[:1].lower() + name[1:]


def java_to_rust_regex(pattern):
    r"""The model's pattern as a Rust regex with AWS's (Java) semantics.

    AWS checks awsQuery patterns with Java's `Matcher.matches()`: the whole
    value must match, and `\w` / `\d` are ASCII-only (Rust's are Unicode).
    `\p{L}`, `\uXXXX` and the rest mean the same in both.
    """
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            e = pattern[i + 1]
            if e in "WDsSbB":
                raise ValueError("pattern %r uses \\%s: teach java_to_rust_regex its Java meaning" % (pattern, e))
            if e in "wd":
                chars = "0-9A-Za-z_" if e == "w" else "0-9"
                out.append(chars if in_class else "[%s]" % chars)
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[":
            if in_class:
                raise ValueError("pattern %r nests character classes" % pattern)
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "^(?:%s)$" % "".join(out)


def rust_str(s):
    if not s.isascii():
        raise ValueError("non-ASCII text %r would need Rust escapes" % s)
    return json.dumps(s)


def query_checks(model, shape_name, path, expr, patterns, depth=0):
    """Rust statements validating `expr` (a reference to a value of
    shape_name) at `path` (a Rust expression of a `&str` in AWS's form)."""
    shape = model["shapes"][shape_name]
    t = shape["type"]
    out = []
    if t == "string":
        if "min" in shape:
            out.append("v.min_len(%s, %s, %d);" % (expr, path, shape["min"]))
        if "max" in shape:
            out.append("v.max_len(%s, %s, %d);" % (expr, path, shape["max"]))
        if "enum" in shape:
            out.append("v.one_of(%s, %s, &[%s]);" % (expr, path, ", ".join(rust_str(e) for e in shape["enum"])))
        if "pattern" in shape:
            regex = java_to_rust_regex(shape["pattern"])
            patterns.add(regex)
            out.append("v.pattern_whole(%s, %s, %s, %s);" % (expr, path, rust_str(shape["pattern"]), rust_str(regex)))
    elif t in ("integer", "long"):
        if "min" in shape:
            out.append("v.min_num(*%s, %s, %d);" % (expr, path, shape["min"]))
        if "max" in shape:
            out.append("v.max_num(*%s, %s, %d);" % (expr, path, shape["max"]))
    elif t == "list":
        if "min" in shape:
            out.append("v.min_items(%s.len(), %s, %d);" % (expr, path, shape["min"]))
        if "max" in shape:
            out.append("v.max_items(%s.len(), %s, %d);" % (expr, path, shape["max"]))
        item, idx, p = "item%d" % depth, "i%d" % depth, "p%d" % depth
        inner = query_checks(model, shape["member"]["shape"], "&" + p, item, patterns, depth + 1)
        if inner:
            out.append("for (%s, %s) in %s.iter().enumerate() {" % (idx, item, expr))
            out.append('    let %s = format!("{}.{}.member", %s, %s + 1);' % (p, path, idx))
            out.extend("    " + line for line in inner)
            out.append("}")
    elif t == "map":
        val, idx, p = "val%d" % depth, "i%d" % depth, "p%d" % depth
        inner = query_checks(model, shape["value"]["shape"], "&" + p, val, patterns, depth + 1)
        if inner:
            out.append("for (%s, %s) in %s.values().enumerate() {" % (idx, val, expr))
            out.append('    let %s = format!("{}.entry.{}.value", %s, %s + 1);' % (p, path, idx))
            out.extend("    " + line for line in inner)
            out.append("}")
    elif t == "structure":
        out.append("%s.validate_into(v, %s);" % (expr, path))
    return out


def query_read(model, shape_name, key, depth=0):
    """A Rust expression of type `Result<Option<T>, ApiError>` that reads a
    value of shape_name from the form parameters at `key` (a `&str`), per
    botocore's QuerySerializer: lists `key.member.N`, maps
    `key.entry.N.key` / `key.entry.N.value`, structures `key.Member`."""
    shape = model["shapes"][shape_name]
    t = shape["type"]
    if shape.get("flattened"):
        raise ValueError("flattened shape %s: teach query_read about it" % shape_name)
    if t in ("string", "timestamp"):
        return "Ok(form.string(%s))" % key
    if t == "integer":
        return "form.integer(%s)" % key
    if t == "long":
        return "form.long(%s)" % key
    if t == "boolean":
        return "form.boolean(%s)" % key
    k = "k%d" % depth
    if t == "list":
        name = shape["member"].get("locationName", "member")
        inner = query_read(model, shape["member"]["shape"], k, depth + 1)
        return "form.list(%s, %s, |form, %s| %s)" % (key, rust_str(name), k, inner)
    if t == "map":
        key_name = shape["key"].get("locationName", "key")
        value_name = shape["value"].get("locationName", "value")
        inner = query_read(model, shape["value"]["shape"], k, depth + 1)
        return "form.map(%s, %s, %s, |form, %s| %s)" % (key, rust_str(key_name), rust_str(value_name), k, inner)
    if t == "structure":
        return "form.structure(%s, %s::from_query)" % (key, shape_name)
    raise ValueError("unsupported shape type %s for %s in awsQuery input" % (t, shape_name))


def xml_write(model, module, shape_name, expr, depth=0):
    """Rust statements appending the XML content (without the enclosing
    element) of `expr`, a reference to a value of shape_name, to `out`."""
    shape = model["shapes"][shape_name]
    t = shape["type"]
    if shape.get("flattened"):
        raise ValueError("flattened shape %s: teach xml_write about it" % shape_name)
    if t == "string" and shape_name in URL_ENCODED_OUTPUT_SHAPES.get(module, ()):
        return ["out.push_str(&crate::query::encode_policy_document(%s));" % expr]
    if t in ("string", "timestamp"):
        return ["crate::query::xml_text(out, %s);" % expr]
    if t in ("integer", "long"):
        return ["out.push_str(&%s.to_string());" % expr]
    if t == "boolean":
        return ['out.push_str(if *%s { "true" } else { "false" });' % expr]
    if t == "list":
        item = "item%d" % depth
        name = shape["member"].get("locationName", "member")
        lines = ["for %s in %s.iter() {" % (item, expr), '    out.push_str("<%s>");' % name]
        lines += ["    " + line for line in xml_write(model, module, shape["member"]["shape"], item, depth + 1)]
        lines += ['    out.push_str("</%s>");' % name, "}"]
        return lines
    if t == "map":
        key, val = "key%d" % depth, "val%d" % depth
        key_name = shape["key"].get("locationName", "key")
        value_name = shape["value"].get("locationName", "value")
        lines = ["for (%s, %s) in %s.iter() {" % (key, val, expr), '    out.push_str("<entry><%s>");' % key_name]
        lines += ["    " + line for line in xml_write(model, module, shape["key"]["shape"], key, depth + 1)]
        lines += ['    out.push_str("</%s><%s>");' % (key_name, value_name)]
        lines += ["    " + line for line in xml_write(model, module, shape["value"]["shape"], val, depth + 1)]
        lines += ['    out.push_str("</%s></entry>");' % value_name, "}"]
        return lines
    if t == "structure":
        return ["%s.write_xml(out);" % expr]
    raise ValueError("unsupported shape type %s for %s in awsQuery output" % (t, shape_name))


def reachable(model, roots):
    """Structure shapes reachable from `roots`."""
    seen, todo, out = set(), list(roots), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        shape = model["shapes"][name]
        if shape["type"] == "structure":
            out.add(name)
        for k in ("member", "key", "value"):
            if k in shape:
                todo.append(shape[k]["shape"])
        for spec in shape.get("members", {}).values():
            todo.append(spec["shape"])
    return out


# ErrorCode variants are named by the model's error code, except where that
# name is taken by a hand-written code in error.rs: the JSON services' common
# `ExpiredTokenException` is 403, STS's modelled one 400.
VARIANT_RENAMES = {("sts", "ExpiredTokenException"): "StsExpiredTokenException"}


def error_variant(model, module, shape_name):
    if (module, shape_name) in VARIANT_RENAMES:
        return VARIANT_RENAMES[(module, shape_name)]
    code = model["shapes"][shape_name]["error"]["code"]
    if not re.match(r"^[A-Z][A-Za-z0-9]*$", code):
        raise ValueError("error code %r is not a Rust identifier" % code)
    return code


def generate_query(models_dir, module, rel, variant, ops, all_errors):
    model = json.load(open(os.path.join(models_dir, rel)))
    meta = model["metadata"]
    if meta["protocol"] != "query":
        raise ValueError("%s is not an awsQuery model" % rel)
    for reserved in ("Operation", "Request", "Response"):
        if reserved in model["shapes"]:
            raise ValueError("shape %s collides with the generated enum of that name" % reserved)
    inputs, outputs = [], []
    for op in ops:
        o = model["operations"][op]
        if o["http"]["method"] != "POST" or o["http"]["requestUri"] != "/":
            raise ValueError("%s is not POST /" % op)
        if "input" in o:
            inputs.append(o["input"]["shape"])
        if "output" in o:
            outputs.append(o["output"]["shape"])
        for e in o.get("errors", []):
            err = model["shapes"][e["shape"]]["error"]
            entry = all_errors.setdefault(error_variant(model, module, e["shape"]), (err["code"], err.get("httpStatusCode", 400), set()))
            if entry[:2] != (err["code"], err.get("httpStatusCode", 400)):
                raise ValueError("error %s differs between models" % err["code"])
            entry[2].add("%s %s" % (module, e["shape"]))
    readable = reachable(model, inputs)
    writable = reachable(model, outputs)
    patterns = set()
    lines = [
        "// @generated by crates/wire/codegen/generate.py from shared/spec/models/%s. Do not edit." % rel,
        "#![allow(clippy::all, missing_docs)]",
        "use crate::query::{QueryForm, QueryService};",
        "use crate::validate::Validator;",
        "use crate::{ApiError, ErrorCode, WireResponse};",
        "use serde::{Deserialize, Serialize};",
        "#[allow(unused_imports)]",
        "use std::collections::BTreeMap;",
        "",
        "/// The API version clients send as `Version`.",
        "pub const VERSION: &str = %s;" % rust_str(meta["apiVersion"]),
        "/// The namespace of every response and error document.",
        "pub const XML_NAMESPACE: &str = %s;" % rust_str(meta["xmlNamespace"]),
        "/// The SigV4 service name (credential scope).",
        "pub const SIGNING_NAME: &str = %s;" % rust_str(meta.get("signingName", meta["endpointPrefix"])),
        "/// Every operation of the model, served or not (unknown actions are",
        "/// told apart from unimplemented ones).",
        "pub const MODEL_ACTIONS: &[&str] = &[%s];" % ", ".join(rust_str(a) for a in sorted(model["operations"])),
        "",
    ]
    sops = sorted(ops)
    lines.append("/// The operations Cairn serves, by `Action`.")
    lines.append("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]")
    lines.append("pub enum Operation {")
    lines += ["    %s," % op for op in sops]
    lines.append("}")
    lines.append("")
    lines.append("impl Operation {")
    lines.append("    /// Every served operation.")
    lines.append("    pub const ALL: &'static [Operation] = &[%s];" % ", ".join("Operation::%s" % op for op in sops))
    lines.append("    /// The operation an `Action` names (case-sensitive, as AWS).")
    lines.append("    pub fn from_action(action: &str) -> Option<Self> {")
    lines.append("        match action {")
    lines += ['            %s => Some(Self::%s),' % (rust_str(op), op) for op in sops]
    lines.append("            _ => None,")
    lines.append("        }")
    lines.append("    }")
    lines.append("    /// The `Action` name.")
    lines.append("    pub fn name(self) -> &'static str {")
    lines.append("        match self {")
    lines += ['            Self::%s => %s,' % (op, rust_str(op)) for op in sops]
    lines.append("        }")
    lines.append("    }")
    lines.append("    /// The model's `resultWrapper`: the element around the result, if the operation has output.")
    lines.append("    pub fn result_wrapper(self) -> Option<&'static str> {")
    lines.append("        match self {")
    for op in sops:
        o = model["operations"][op]
        if "output" in o:
            lines.append('            Self::%s => Some(%s),' % (op, rust_str(o["output"]["resultWrapper"])))
        else:
            lines.append("            Self::%s => None," % op)
    lines.append("        }")
    lines.append("    }")
    lines.append("    /// The errors the model lists for the operation.")
    lines.append("    pub fn errors(self) -> &'static [ErrorCode] {")
    lines.append("        match self {")
    for op in sops:
        errs = [error_variant(model, module, e["shape"]) for e in model["operations"][op].get("errors", [])]
        lines.append("            Self::%s => &[%s]," % (op, ", ".join("ErrorCode::%s" % e for e in errs)))
    lines.append("        }")
    lines.append("    }")
    lines.append("}")
    lines.append("")
    # Requests.
    lines.append("/// A decoded, validated request.")
    lines.append("#[derive(Debug, Clone, PartialEq)]")
    lines.append("pub enum Request {")
    for op in sops:
        o = model["operations"][op]
        lines.append("    %s(%s)," % (op, o["input"]["shape"]) if "input" in o else "    %s," % op)
    lines.append("}")
    lines.append("")
    lines.append("impl Request {")
    lines.append("    /// The operation requested.")
    lines.append("    pub fn operation(&self) -> Operation {")
    lines.append("        match self {")
    for op in sops:
        pat = "Self::%s(_)" % op if "input" in model["operations"][op] else "Self::%s" % op
        lines.append("            %s => Operation::%s," % (pat, op))
    lines.append("        }")
    lines.append("    }")
    lines.append("")
    lines.append("    /// Decodes the form's `Action` and its parameters, and checks the")
    lines.append("    /// model's constraints (`ValidationError` on violation).")
    lines.append("    pub fn decode(form: &QueryForm) -> Result<Self, ApiError> {")
    lines.append("        let action = form.action()?;")
    lines.append("        let Some(op) = Operation::from_action(action) else {")
    lines.append("            return Err(crate::query::unknown_action(QueryService::%s, action, form.version().unwrap_or(VERSION)));" % variant)
    lines.append("        };")
    lines.append("        Ok(match op {")
    for op in sops:
        o = model["operations"][op]
        if "input" in o:
            lines.append("            Operation::%s => Self::%s(crate::query::checked(%s::from_query(form, \"\")?, |r, v| r.validate_into(v, \"\"))?)," % (op, op, o["input"]["shape"]))
        else:
            lines.append("            Operation::%s => Self::%s," % (op, op))
    lines.append("        })")
    lines.append("    }")
    lines.append("}")
    lines.append("")
    # Responses.
    lines.append("/// A result to send: one variant per operation, carrying the model's")
    lines.append("/// output shape (none for operations without output).")
    lines.append("#[derive(Debug, Clone, PartialEq)]")
    lines.append("pub enum Response {")
    for op in sops:
        o = model["operations"][op]
        lines.append("    %s(%s)," % (op, o["output"]["shape"]) if "output" in o else "    %s," % op)
    lines.append("}")
    lines.append("")
    lines.append("impl Response {")
    lines.append("    /// The operation answered.")
    lines.append("    pub fn operation(&self) -> Operation {")
    lines.append("        match self {")
    for op in sops:
        pat = "Self::%s(_)" % op if "output" in model["operations"][op] else "Self::%s" % op
        lines.append("            %s => Operation::%s," % (pat, op))
    lines.append("        }")
    lines.append("    }")
    lines.append("")
    lines.append("    /// The whole `<{Op}Response>` document.")
    lines.append("    pub fn to_xml(&self, request_id: &str) -> String {")
    lines.append("        let mut result = String::new();")
    lines.append("        match self {")
    for op in sops:
        if "output" in model["operations"][op]:
            lines.append("            Self::%s(r) => r.write_xml(&mut result)," % op)
        else:
            lines.append("            Self::%s => {}" % op)
    lines.append("        }")
    lines.append("        let op = self.operation();")
    lines.append("        crate::query::envelope(QueryService::%s, op.name(), op.result_wrapper().map(|w| (w, result.as_str())), request_id)" % variant)
    lines.append("    }")
    lines.append("")
    lines.append("    /// The HTTP response: 200, `text/xml`, the document of [`Response::to_xml`].")
    lines.append("    pub fn to_wire(&self, request_id: &str) -> WireResponse {")
    lines.append("        crate::query::xml_response(self.to_xml(request_id))")
    lines.append("    }")
    lines.append("}")
    lines.append("")
    # Structures.
    for name in sorted(readable | writable):
        shape = model["shapes"][name]
        if shape.get("exception"):
            continue
        required = set(shape.get("required", []))
        fields, validators, reads, writes = [], [], [], []
        for member, spec in shape.get("members", {}).items():
            if spec.get("location"):
                raise ValueError("%s.%s has location %s, which awsQuery does not use" % (name, member, spec["location"]))
            wire_name = spec.get("locationName", member)
            field = snake(member)
            ty = rust_type(model, spec["shape"], set(), timestamp="String")
            mshape = model["shapes"][spec["shape"]]
            doc = []
            if mshape["type"] == "timestamp":
                doc.append("    /// ISO 8601 in UTC, as sent on the wire (e.g. `2026-01-01T00:00:00Z`).")
            if spec["shape"] in URL_ENCODED_OUTPUT_SHAPES.get(module, ()) and name in writable:
                doc.append("    /// The JSON document itself; `write_xml` URL-encodes it as AWS does.")
            fields += doc
            fields.append('    #[serde(rename = %s, skip_serializing_if = "Option::is_none")]\n    pub %s: Option<%s>,' % (
                rust_str(wire_name), field, ty))
            at = lower_camel(member)
            if member in required:
                validators.append('if self.%s.is_none() { v.missing(path, %s); }' % (field, rust_str(at)))
            body = query_checks(model, spec["shape"], "&p", "x", patterns)
            if body:
                validators.append("if let Some(x) = &self.%s {" % field)
                validators.append('    let p = format!("{path}.%s");' % at)
                validators += ["    " + line for line in body]
                validators.append("}")
            read = query_read(model, spec["shape"], '&format!("{prefix}%s")' % wire_name)
            if read.startswith("Ok(form.string("):
                reads.append("%s: %s," % (field, read[len("Ok("):-1]))
            else:
                reads.append("%s: %s?," % (field, read))
            writes.append("if let Some(x) = &self.%s {" % field)
            writes.append('    out.push_str("<%s>");' % wire_name)
            writes += ["    " + line for line in xml_write(model, module, spec["shape"], "x")]
            writes.append('    out.push_str("</%s>");' % wire_name)
            writes.append("}")
        lines.append("#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]")
        lines.append("pub struct %s {" % name)
        lines += fields
        lines.append("}")
        lines.append("")
        lines.append("impl %s {" % name)
        lines.append("    /// Checks the model's constraints: required members, lengths, ranges, enums, patterns.")
        lines.append("    /// `path` is AWS's lower-camel member path (`tags.1.member.key`), empty at the top.")
        lines.append("    pub fn validate_into(&self, v: &mut Validator, path: &str) {")
        lines.append("        let _ = (&v, path);")
        lines += ["        " + line for line in validators]
        lines.append("    }")
        if name in readable:
            lines.append("")
            lines.append("    /// Reads the members from the form parameters `{prefix}Member…`; a")
            lines.append("    /// malformed number or boolean is a `ValidationError`, unknown")
            lines.append("    /// parameters are ignored.")
            lines.append("    pub fn from_query(form: &QueryForm, prefix: &str) -> Result<Self, ApiError> {")
            lines.append("        let _ = (form, prefix);")
            lines.append("        Ok(Self {")
            lines += ["            " + line for line in reads]
            lines.append("        })")
            lines.append("    }")
        if name in writable:
            lines.append("")
            lines.append("    /// Appends the members as XML elements (absent members are omitted).")
            lines.append("    pub fn write_xml(&self, out: &mut String) {")
            lines.append("        let _ = &out;")
            lines += ["        " + line for line in writes]
            lines.append("    }")
        lines.append("}")
        lines.append("")
    lines.append("/// Every pattern the validators use, as Rust regexes (tests check they compile).")
    lines.append("#[cfg(test)]")
    lines.append("pub(crate) const PATTERNS: &[&str] = &[%s];" % ", ".join(rust_str(p) for p in sorted(patterns)))
    lines.append("")
    write_rust(module, lines)


def generate_query_errors(all_errors):
    lines = [
        "// @generated by crates/wire/codegen/generate.py from the awsQuery models in shared/spec/models. Do not edit.",
        "//",
        "// Included by error.rs: the error codes that the served IAM and STS",
        "// operations list, with the model's `error.code` and `httpStatusCode`.",
        "",
        "/// Hands the awsQuery model error codes, after the tokens given, to `codes!`.",
        "macro_rules! with_query_model_codes {",
        "    ($($rest:tt)*) => {",
        "        codes! {",
        "            $($rest)*",
    ]
    for variant in sorted(all_errors):
        code, status, sources = all_errors[variant]
        lines.append("            // %s" % ", ".join(sorted(sources)))
        lines.append("            %s = %s, %d;" % (variant, rust_str(code), status))
    lines += ["        }", "    };", "}", ""]
    write_rust("query_errors", lines)


def write_rust(module, lines):
    path = os.path.join(OUT, module + ".rs")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    # Format like the rest of the tree, so `cargo fmt --check` stays clean.
    subprocess.run(["rustfmt", "--edition", "2021", path], check=True)


def main():
    models_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "..", "shared", "spec", "models")
    os.makedirs(OUT, exist_ok=True)
    for module, (rel, ops) in SERVICES.items():
        generate(models_dir, module, rel, ops)
    all_errors = {}
    for module, (rel, variant, ops) in QUERY_SERVICES.items():
        generate_query(models_dir, module, rel, variant, ops, all_errors)
    generate_query_errors(all_errors)


if __name__ == "__main__":
    main()
