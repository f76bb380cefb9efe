//! The MalformedPolicyDocument catalogue.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::{messages, Policy, PolicyType};

fn err(doc: &str, ty: PolicyType) -> iam_policy::MalformedPolicy {
    match Policy::parse(doc, ty) {
        Ok(p) => panic!("accepted: {doc} as {p:?}"),
        Err(e) => e,
    }
}

fn msg(doc: &str, ty: PolicyType) -> String {
    err(doc, ty).to_string()
}

const I: PolicyType = PolicyType::Identity;
const R: PolicyType = PolicyType::Resource;
const T: PolicyType = PolicyType::Trust;

#[test]
fn syntax_errors() {
    for doc in [
        "",
        "not json",
        "[]",
        r#"{"Version":"2012-10-17"}"#,
        r#"{"Version":"2012-10-17","Statement":[]}"#,
        r#"{"Version":"2012-10-17","Statement":"x"}"#,
        r#"{"Version":"2012-10-17","Statement":[1]}"#,
        r#"{"Version":"2012-10-17","Foo":1,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        r#"{"Version":"2013-01-01","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Actions":"*","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Permit","Action":"*","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Action":"*","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[1],"Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":{"a":1}}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":"x"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringFoo":{"a:b":"c"}}}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"a:b":null}}}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"a:b":"maybe"}}}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Sid":1,"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Id":5,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    ] {
        assert_eq!(msg(doc, I), messages::SYNTAX, "{doc}");
    }
    let resource_bad = [
        r#"{"Statement":{"Effect":"Allow","Principal":"bob","Action":"*","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Principal":{"Foo":"x"},"Action":"*","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Principal":{},"Action":"*","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"*","Resource":"*"}}"#,
    ];
    for doc in resource_bad {
        assert_eq!(msg(doc, R), messages::SYNTAX, "{doc}");
    }
}

#[test]
fn detailed_locates_the_statement() {
    let e = err(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"Two","Effect":"Allow","Actions":"*","Resource":"*"}]}"#,
        I,
    );
    assert_eq!(e.statement, Some(1));
    assert_eq!(e.sid.as_deref(), Some("Two"));
    assert_eq!(
        e.detailed(),
        "Syntax errors in policy. (statement 1, Sid \"Two\": unknown field \"Actions\")"
    );
}

#[test]
fn per_kind_messages() {
    let with_principal = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#;
    assert_eq!(
        msg(with_principal, I),
        "Policy document should not specify a principal."
    );
    let without = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"cloudtrail-data:PutAuditEvents","Resource":"*"}}"#;
    assert_eq!(msg(without, R), "Missing required field Principal");
    assert_eq!(msg(without, T), "Missing required field Principal");
    let trust_res = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole","Resource":"*"}}"#;
    assert_eq!(msg(trust_res, T), "Has prohibited field Resource");
    let trust_act = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject"}}"#;
    assert_eq!(
        msg(trust_act, T),
        "AssumeRole policy may only specify STS AssumeRole actions."
    );
    let trust_ok = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"sts:ExternalId":"x"}}}}"#;
    assert!(Policy::parse(trust_ok, T).is_ok());
    let bad_principal = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"*","Resource":"*"}}"#;
    assert_eq!(
        msg(bad_principal, R),
        "Invalid principal in policy: \"AWS\":\"bob\""
    );
    let bad_principal2 = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1234:root"},"Action":"*","Resource":"*"}}"#;
    assert_eq!(
        msg(bad_principal2, R),
        "Invalid principal in policy: \"AWS\":\"arn:aws:iam::1234:root\""
    );
}

#[test]
fn other_messages() {
    let m = |stmt: &str| {
        msg(
            &format!(r#"{{"Version":"2012-10-17","Statement":{stmt}}}"#),
            I,
        )
    };
    assert_eq!(
        m(r#"{"Effect":"allow","Action":"*","Resource":"*"}"#),
        "The policy failed legacy parsing"
    );
    assert_eq!(
        m(
            r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"yesterday"}}}"#
        ),
        "The policy failed legacy parsing"
    );
    assert_eq!(
        m(
            r#"[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]"#
        ),
        "Statement IDs (SID) in a single policy must be unique."
    );
    assert_eq!(
        m(r#"{"Sid":"has space","Effect":"Allow","Action":"*","Resource":"*"}"#),
        messages::SID_ALNUM
    );
    assert_eq!(
        m(r#"{"Effect":"Allow","Resource":"*"}"#),
        "Policy statement must contain actions."
    );
    assert_eq!(
        m(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#),
        "Policy statement must contain actions."
    );
    assert_eq!(
        m(r#"{"Effect":"Allow","Action":"*"}"#),
        "Policy statement must contain resources."
    );
    assert_eq!(
        m(r#"{"Effect":"Allow","Action":"*","Resource":[]}"#),
        "Policy statement must contain resources."
    );
    assert_eq!(
        m(r#"{"Effect":"Allow","Action":"*","Resource":"bucket"}"#),
        "Resource bucket must be in ARN format or \"*\"."
    );
    assert_eq!(
        m(r#"{"Effect":"Allow","Action":"PutAuditEvents","Resource":"*"}"#),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    );
    assert_eq!(
        m(r#"{"Effect":"Allow","Action":"a:b:c","Resource":"*"}"#),
        "Actions/Condition can contain only one colon."
    );
    assert_eq!(
        m(r#"{"Effect":"Allow","Action":"a b:c","Resource":"*"}"#),
        "Vendor a b is not valid"
    );
    // Resource policies allow Sids with spaces (as S3 and CloudTrail do).
    assert!(Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Sid":"Channel policy","Effect":"Allow","Principal":"*","Action":"cloudtrail-data:PutAuditEvents","Resource":"*"}}"#,
        R
    )
    .is_ok());
    // Version: both accepted by parse; managed policies require 2012-10-17.
    let old = Policy::parse(
        r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        I,
    )
    .unwrap();
    assert_eq!(
        old.require_current_version().unwrap_err().to_string(),
        "Policy document must be version 2012-10-17 or greater."
    );
    let none = Policy::parse(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        I,
    )
    .unwrap();
    assert!(none.require_current_version().is_err());
}

#[test]
fn accepted_shapes() {
    let ok = |doc: &str, ty| Policy::parse(doc, ty).unwrap();
    let p = ok(
        r#"{"Version":"2012-10-17","Id":"x","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10},"ForAllValues:StringLikeIfExists":{"aws:TagKeys":["a*","b"]},"UnknownOp":{}}}}"#,
        I,
    );
    assert_eq!(p.statements().len(), 1);
    assert_eq!(p.statements()[0].conditions.len(), 3);
    assert_eq!(p.id(), Some("x"));
    let p = ok(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":["iam:*"],"NotResource":["arn:aws:s3:::b"]},{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        I,
    );
    assert_eq!(p.statements().len(), 2);
    assert!(p.statements()[0].action.negated);
    let p = ok(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:user/a/b","arn:aws:sts::444455556666:assumed-role/R/s","AIDAJQABLZS4A3QDU576Q"],"Service":"cloudtrail.amazonaws.com"},"Action":"cloudtrail-data:PutAuditEvents","Resource":"*"}}"#,
        R,
    );
    let pr = p.statements()[0].principal.as_ref().unwrap();
    assert_eq!(pr.entries.len(), 5);
    assert_eq!(
        pr.entries[0],
        iam_policy::PrincipalEntry::Aws("arn:aws:iam::111122223333:root".into())
    );
}

#[test]
fn audit_rejections() {
    let stmt = |s: &str, ty: PolicyType| {
        msg(
            &format!(r#"{{"Version":"2012-10-17","Statement":{s}}}"#),
            ty,
        )
    };
    // "You can add IfExists to the end of any condition operator name except
    // the Null condition."
    assert_eq!(
        stmt(
            r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"k:x":"true"}}}"#,
            I
        ),
        messages::SYNTAX
    );
    // "You cannot use a wildcard to match part of a principal name or ARN."
    for p in [
        "arn:aws:iam::111122223333:role/*",
        "arn:aws:iam::*:root",
        "arn:aws:sts::111122223333:assumed-role/R/?",
    ] {
        assert_eq!(
            stmt(
                &format!(
                    r#"{{"Effect":"Allow","Principal":{{"AWS":"{p}"}},"Action":"*","Resource":"*"}}"#
                ),
                R
            ),
            format!("Invalid principal in policy: \"AWS\":\"{p}\"")
        );
    }
}

#[test]
fn warnings_never_make_a_policy_invalid() {
    // The troubleshooting article's actions are accepted (as AWS does) and warned about.
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["cloudtrail:PutEvent","cloudtrail:PutLog","cloudtrail:PutMetric"],"Resource":"*"}}"#,
        I,
    )
    .unwrap();
    assert_eq!(p.warnings().len(), 3);
    let t = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRol"}}"#,
        T,
    )
    .unwrap();
    assert_eq!(
        t.warnings()[0].suggestion.as_deref(),
        Some("sts:AssumeRole")
    );
}
