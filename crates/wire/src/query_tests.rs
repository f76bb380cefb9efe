//! Tests of the awsQuery runtime (query.rs) and the generated IAM/STS types.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::query::aws_path;
use crate::validate::matches;
use crate::{
    decode_policy_document, encode_policy_document, error_response, iam, query_error_response, sts,
    ApiError, ErrorCode, Protocol, QueryForm, QueryRequest, QueryService,
};
use std::collections::BTreeMap;

fn form(body: &str) -> QueryForm {
    QueryForm::parse(body.as_bytes()).unwrap()
}

fn decode_iam(body: &str) -> Result<iam::Request, ApiError> {
    iam::Request::decode(&form(body))
}

fn body(r: &crate::WireResponse) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

// ---- form parsing --------------------------------------------------------

#[test]
fn plus_is_space_and_percent_decodes_as_utf8() {
    let f = form("Action=CreateUser&Description=a+b%20c%2Bd&Path=%2F%E2%9C%93%2F&Raw=caf\u{e9}");
    assert_eq!(f.get("Description"), Some("a b c+d"));
    assert_eq!(f.get("Path"), Some("/✓/"));
    assert_eq!(f.get("Raw"), Some("café"));
    // Keys are decoded too.
    let f = form("Tags.member.1.Key%3D=v&A%2BB=1");
    assert_eq!(f.get("Tags.member.1.Key="), Some("v"));
    assert_eq!(f.get("A+B"), Some("1"));
}

#[test]
fn odd_segments_parse_leniently() {
    let f = form("&&Action=GetUser&&Flag&Empty=&Eq=a=b&");
    assert_eq!(f.action().ok(), Some("GetUser"));
    assert_eq!(f.get("Flag"), Some(""));
    assert_eq!(f.get("Empty"), Some(""));
    assert_eq!(f.get("Eq"), Some("a=b"));
    assert_eq!(f.iter().count(), 4);
    // A malformed escape stays literal, as in most form decoders.
    assert_eq!(form("X=%zz%4").get("X"), Some("%zz%4"));
}

#[test]
fn first_of_repeated_parameters_wins() {
    let f = form("UserName=first&UserName=second");
    assert_eq!(f.get("UserName"), Some("first"));
    let r = decode_iam("Action=GetUser&UserName=alice&UserName=mallory").unwrap();
    assert_eq!(
        r,
        iam::Request::GetUser(iam::GetUserRequest {
            user_name: Some("alice".into())
        })
    );
}

#[test]
fn invalid_utf8_is_a_validation_error() {
    let err = QueryForm::parse(b"Action=GetUser&UserName=%FF%FE").unwrap_err();
    assert_eq!(err.code, ErrorCode::QueryValidationError);
    assert!(err.message.contains("UTF-8"), "{}", err.message);
    assert!(QueryForm::parse(b"Action=GetUser&UserName=\xff").is_err());
}

#[test]
fn unknown_parameters_are_ignored() {
    let r = decode_iam(
        "Action=CreateUser&Version=2010-05-08&UserName=bob&Bogus=1&Tags.bogus.1=x&UserName.Extra=y",
    )
    .unwrap();
    assert_eq!(
        r,
        iam::Request::CreateUser(iam::CreateUserRequest {
            user_name: Some("bob".into()),
            ..Default::default()
        })
    );
}

#[test]
fn lists_of_structures_in_index_order() {
    let r = decode_iam(
        "Action=TagUser&UserName=bob\
         &Tags.member.10.Key=k10&Tags.member.10.Value=v10\
         &Tags.member.2.Key=k2&Tags.member.2.Value=\
         &Tags.member.1.Key=k1&Tags.member.1.Value=v+1\
         &Tags.member.01.Key=ignored&Tags.member.0.Key=ignored&Tags.member.x.Key=ignored",
    )
    .unwrap();
    let iam::Request::TagUser(input) = r else {
        panic!("not TagUser: {r:?}")
    };
    let tags: Vec<(String, String)> = input
        .tags
        .unwrap()
        .into_iter()
        .map(|t| (t.key.unwrap(), t.value.unwrap()))
        .collect();
    assert_eq!(
        tags,
        [
            ("k1".to_string(), "v 1".to_string()),
            ("k2".to_string(), String::new()),
            ("k10".to_string(), "v10".to_string()),
        ]
    );
}

#[test]
fn lists_of_strings_and_empty_lists() {
    let r =
        decode_iam("Action=UntagUser&UserName=bob&TagKeys.member.1=a&TagKeys.member.3=c").unwrap();
    let iam::Request::UntagUser(input) = r else {
        panic!()
    };
    assert_eq!(input.tag_keys, Some(vec!["a".to_string(), "c".to_string()]));
    // botocore sends an empty list as `Name=`.
    let f = form("Action=CreateUser&UserName=bob&Tags=");
    let input = iam::CreateUserRequest::from_query(&f, "").unwrap();
    assert_eq!(input.tags, Some(vec![]));
    // ... and an absent list is absent.
    let input = iam::CreateUserRequest::from_query(&form("UserName=bob"), "").unwrap();
    assert_eq!(input.tags, None);
    // A list key with a value but no members is not a list.
    let input = iam::CreateUserRequest::from_query(&form("UserName=bob&Tags=x"), "").unwrap();
    assert_eq!(input.tags, None);
}

#[test]
fn nested_lists_inside_list_elements() {
    let r = decode_iam(
        "Action=SimulateCustomPolicy\
         &PolicyInputList.member.1=%7B%7D\
         &ActionNames.member.1=s3%3AGetObject\
         &ContextEntries.member.1.ContextKeyName=aws%3AUsername\
         &ContextEntries.member.1.ContextKeyType=string\
         &ContextEntries.member.1.ContextKeyValues.member.1=alice\
         &ContextEntries.member.1.ContextKeyValues.member.2=bob\
         &ContextEntries.member.2.ContextKeyName=aws%3ASecureTransport\
         &ContextEntries.member.2.ContextKeyType=boolean\
         &ContextEntries.member.2.ContextKeyValues=",
    )
    .unwrap();
    let iam::Request::SimulateCustomPolicy(input) = r else {
        panic!()
    };
    assert_eq!(input.policy_input_list, Some(vec!["{}".to_string()]));
    let entries = input.context_entries.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].context_key_name.as_deref(), Some("aws:Username"));
    assert_eq!(
        entries[0].context_key_values,
        Some(vec!["alice".to_string(), "bob".to_string()])
    );
    assert_eq!(entries[1].context_key_values, Some(vec![]));
}

#[test]
fn nested_structures_and_maps_through_the_runtime() {
    let f = form(
        "Outer.Inner.Name=n&Outer.Count=3\
         &Attrs.entry.1.key=a&Attrs.entry.1.value=1\
         &Attrs.entry.2.key=b&Attrs.entry.2.value=2\
         &Attrs.entry.3.key=a&Attrs.entry.3.value=shadowed\
         &Attrs.entry.4.value=no-key\
         &Empty=",
    );
    let outer = f
        .structure("Outer", |f, p| {
            let inner = f.structure(&format!("{p}Inner"), |f, p| {
                Ok(f.string(&format!("{p}Name")))
            })?;
            Ok((inner.flatten(), f.integer(&format!("{p}Count"))?))
        })
        .unwrap();
    assert_eq!(outer, Some((Some("n".to_string()), Some(3))));
    assert_eq!(f.structure("Missing", |_, _| Ok(())).unwrap(), None);
    let attrs = f
        .map("Attrs", "key", "value", |f, k| Ok(f.string(k)))
        .unwrap()
        .unwrap();
    assert_eq!(
        attrs,
        BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string())
        ])
    );
    assert_eq!(
        f.map("Empty", "key", "value", |f, k| Ok(f.string(k)))
            .unwrap(),
        Some(BTreeMap::new())
    );
    assert_eq!(
        f.map("Nope", "key", "value", |f, k| Ok(f.string(k)))
            .unwrap(),
        None
    );
}

#[test]
fn booleans_and_integers() {
    let r = decode_iam("Action=ListPolicies&OnlyAttached=TRUE&MaxItems=100&Scope=Local").unwrap();
    let iam::Request::ListPolicies(input) = r else {
        panic!()
    };
    assert_eq!(input.only_attached, Some(true));
    assert_eq!(input.max_items, Some(100));
    assert_eq!(input.scope.as_deref(), Some("Local"));
}

#[test]
fn aws_paths_are_lower_camel_with_index_before_member() {
    assert_eq!(aws_path("UserName"), "userName");
    assert_eq!(aws_path("Tags.member.1.Key"), "tags.1.member.key");
    assert_eq!(
        aws_path("ContextEntries.member.2.ContextKeyValues.member.10"),
        "contextEntries.2.member.contextKeyValues.10.member"
    );
    assert_eq!(aws_path("Attrs.entry.3.value"), "attrs.entry.3.value");
    assert_eq!(
        aws_path("PolicyArns.member.1.arn"),
        "policyArns.1.member.arn"
    );
}

// ---- decode errors -------------------------------------------------------

#[test]
fn missing_action() {
    for body in [
        "Version=2010-05-08&UserName=bob",
        "Action=&Version=2010-05-08",
        "",
    ] {
        let f = form(body);
        let err = QueryService::for_form(&f, Some("iam")).unwrap_err();
        assert_eq!(err.code, ErrorCode::QueryMissingAction, "{body}");
        assert_eq!(err.code.as_str(), "MissingAction");
        assert_eq!(err.code.status(), 400);
        assert!(err
            .message
            .starts_with("Could not find Action in the request"));
        assert_eq!(
            iam::Request::decode(&f).unwrap_err().code,
            ErrorCode::QueryMissingAction
        );
    }
}

#[test]
fn unknown_actions_say_whether_aws_has_them() {
    let err = decode_iam("Action=CreateLoginProfile&Version=2010-05-08").unwrap_err();
    assert_eq!(err.code, ErrorCode::QueryInvalidAction);
    assert_eq!(
        err.message,
        "Could not find operation CreateLoginProfile for version 2010-05-08: CreateLoginProfile is an IAM operation that Cairn does not implement."
    );
    let err = decode_iam("Action=createuser&Version=2010-05-08").unwrap_err();
    assert_eq!(err.code, ErrorCode::QueryInvalidAction);
    assert!(err
        .message
        .starts_with("Could not find operation createuser for version 2010-05-08: IAM has no operation of that name"));
    let err = sts::Request::decode(&form("Action=CreateUser&Version=2011-06-15")).unwrap_err();
    assert_eq!(err.code, ErrorCode::QueryInvalidAction);
    assert!(
        err.message.contains("for version 2011-06-15"),
        "{}",
        err.message
    );
}

#[test]
fn the_service_comes_from_version_then_signing_name() {
    let f = form("Action=GetCallerIdentity&Version=2011-06-15");
    assert_eq!(
        QueryService::for_form(&f, Some("iam")).unwrap(),
        QueryService::Sts
    );
    let f = form("Action=GetUser");
    assert_eq!(
        QueryService::for_form(&f, Some("iam")).unwrap(),
        QueryService::Iam
    );
    assert_eq!(
        QueryService::for_form(&f, Some("sts")).unwrap(),
        QueryService::Sts
    );
    let err = QueryService::for_form(&f, None).unwrap_err();
    assert_eq!(err.code, ErrorCode::QueryMissingParameter);
    let err = QueryService::for_form(&form("Action=GetUser&Version=2012-01-01"), None).unwrap_err();
    assert_eq!(err.code, ErrorCode::QueryInvalidAction);
    assert!(err
        .message
        .starts_with("Could not find operation GetUser for version 2012-01-01"));
    assert_eq!(
        QueryService::Iam.namespace(),
        "https://iam.amazonaws.com/doc/2010-05-08/"
    );
    assert_eq!(
        QueryService::Sts.namespace(),
        "https://sts.amazonaws.com/doc/2011-06-15/"
    );
    assert_eq!(
        QueryService::from_version("2010-05-08"),
        Some(QueryService::Iam)
    );
    assert_eq!(
        QueryService::from_signing_name("sts"),
        Some(QueryService::Sts)
    );
    let r = QueryService::Sts.decode(&form("Action=GetCallerIdentity&Version=2011-06-15"));
    let r = r.unwrap();
    assert_eq!(r.service(), QueryService::Sts);
    assert_eq!(r.action(), "GetCallerIdentity");
    assert!(matches!(
        r,
        QueryRequest::Sts(sts::Request::GetCallerIdentity(_))
    ));
}

#[test]
fn malformed_numbers_and_booleans_are_validation_errors() {
    let err = decode_iam("Action=ListUsers&MaxItems=ten").unwrap_err();
    assert_eq!(err.code, ErrorCode::QueryValidationError);
    assert_eq!(err.code.as_str(), "ValidationError");
    assert_eq!(
        err.message,
        "1 validation error detected: Value 'ten' at 'maxItems' failed to satisfy constraint: Member must be a whole number from -2147483648 to 2147483647, in decimal digits"
    );
    // integer is 32-bit.
    let err = decode_iam("Action=ListUsers&MaxItems=2147483648").unwrap_err();
    assert_eq!(err.code, ErrorCode::QueryValidationError);
    let err = decode_iam("Action=ListUsers&MaxItems=").unwrap_err();
    assert_eq!(err.code, ErrorCode::QueryValidationError);
    let err = decode_iam("Action=ListPolicies&OnlyAttached=yes").unwrap_err();
    assert_eq!(
        err.message,
        "1 validation error detected: Value 'yes' at 'onlyAttached' failed to satisfy constraint: Member must be true or false"
    );
    let err = sts::Request::decode(&form(
        "Action=AssumeRole&RoleArn=arn:aws:iam::111122223333:role/r&RoleSessionName=s1&DurationSeconds=1.5",
    ))
    .unwrap_err();
    assert!(
        err.message.contains("at 'durationSeconds'"),
        "{}",
        err.message
    );
}

#[test]
fn constraint_violations_use_aws_member_paths() {
    let err = decode_iam("Action=CreateUser").unwrap_err();
    assert_eq!(err.code, ErrorCode::QueryValidationError);
    assert_eq!(
        err.message,
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"
    );
    // Patterns match the whole value, with Java's ASCII \w.
    let err = decode_iam("Action=CreateUser&UserName=bob+smith").unwrap_err();
    assert_eq!(
        err.message,
        "1 validation error detected: Value 'bob smith' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    );
    assert!(decode_iam("Action=CreateUser&UserName=b%C3%B6b").is_err());
    assert!(decode_iam("Action=CreateUser&UserName=bob.smith%40example.com").is_ok());
    let err = decode_iam(
        "Action=CreateUser&UserName=bob&Tags.member.1.Key=&Tags.member.1.Value=v&Tags.member.2.Value=w",
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "3 validation errors detected: Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+; Value null at 'tags.2.member.key' failed to satisfy constraint: Member must not be null"
    );
    let err = decode_iam("Action=ListUsers&MaxItems=0").unwrap_err();
    assert_eq!(
        err.message,
        "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    let err = decode_iam("Action=UpdateAccessKey&AccessKeyId=AKIAIOSFODNN7EXAMPLE&Status=On")
        .unwrap_err();
    assert_eq!(
        err.message,
        "1 validation error detected: Value 'On' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]"
    );
    let err = sts::Request::decode(&form(
        "Action=AssumeRole&RoleArn=arn:aws:iam::111122223333:role/r&RoleSessionName=s1&PolicyArns.member.1.arn=short",
    ))
    .unwrap_err();
    assert_eq!(
        err.message,
        "1 validation error detected: Value 'short' at 'policyArns.1.member.arn' failed to satisfy constraint: Member must have length greater than or equal to 20"
    );
}

#[test]
fn a_valid_assume_role_decodes() {
    let r = sts::Request::decode(&form(
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fdeploy\
         &RoleSessionName=ci-run&DurationSeconds=900&ExternalId=ext-1\
         &PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess\
         &Tags.member.1.Key=team&Tags.member.1.Value=audit&TransitiveTagKeys.member.1=team",
    ))
    .unwrap();
    let sts::Request::AssumeRole(input) = r else {
        panic!()
    };
    assert_eq!(
        input.role_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/deploy")
    );
    assert_eq!(input.duration_seconds, Some(900));
    assert_eq!(
        input.policy_arns.unwrap()[0].arn.as_deref(),
        Some("arn:aws:iam::aws:policy/ReadOnlyAccess")
    );
    assert_eq!(input.transitive_tag_keys, Some(vec!["team".to_string()]));
}

#[test]
fn policy_documents_in_requests_are_plain_json() {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let encoded: String = url_form_encode(doc);
    let r = decode_iam(&format!(
        "Action=PutRolePolicy&RoleName=r&PolicyName=p&PolicyDocument={encoded}"
    ))
    .unwrap();
    let iam::Request::PutRolePolicy(input) = r else {
        panic!()
    };
    assert_eq!(input.policy_document.as_deref(), Some(doc));
}

/// What Python's `urlencode` (botocore) does to a value.
fn url_form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// ---- responses -----------------------------------------------------------

#[test]
fn create_user_response_document() {
    let r = iam::Response::CreateUser(iam::CreateUserResponse {
        user: Some(iam::User {
            path: Some("/".into()),
            user_name: Some("bob".into()),
            user_id: Some("AIDAEXAMPLE".into()),
            arn: Some("arn:aws:iam::123456789012:user/bob".into()),
            create_date: Some("2026-01-01T00:00:00Z".into()),
            tags: Some(vec![iam::Tag {
                key: Some("team".into()),
                value: Some("a&b <c>".into()),
            }]),
            ..Default::default()
        }),
    });
    let w = r.to_wire("req-1");
    assert_eq!(w.status, 200);
    assert_eq!(w.headers, vec![("content-type", "text/xml".to_string())]);
    assert_eq!(
        body(&w),
        "<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <CreateUserResult><User><Path>/</Path><UserName>bob</UserName><UserId>AIDAEXAMPLE</UserId>\
         <Arn>arn:aws:iam::123456789012:user/bob</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate>\
         <Tags><member><Key>team</Key><Value>a&amp;b &lt;c&gt;</Value></member></Tags></User></CreateUserResult>\
         <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></CreateUserResponse>"
    );
}

#[test]
fn operations_without_output_have_no_result_element() {
    let r = iam::Response::DeleteUser;
    assert_eq!(r.operation(), iam::Operation::DeleteUser);
    assert_eq!(
        r.to_xml("r2"),
        "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></DeleteUserResponse>"
    );
    assert_eq!(iam::Operation::PutRolePolicy.result_wrapper(), None);
    assert_eq!(
        iam::Operation::GetRolePolicy.result_wrapper(),
        Some("GetRolePolicyResult")
    );
}

#[test]
fn lists_booleans_and_empty_lists_in_responses() {
    let r = iam::Response::ListRolePolicies(iam::ListRolePoliciesResponse {
        policy_names: Some(vec!["p1".into(), "p2".into()]),
        is_truncated: Some(false),
        marker: None,
    });
    assert_eq!(
        r.to_xml("r"),
        "<ListRolePoliciesResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <ListRolePoliciesResult><PolicyNames><member>p1</member><member>p2</member></PolicyNames>\
         <IsTruncated>false</IsTruncated></ListRolePoliciesResult>\
         <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListRolePoliciesResponse>"
    );
    let r = iam::Response::ListRolePolicies(iam::ListRolePoliciesResponse {
        policy_names: Some(vec![]),
        is_truncated: Some(true),
        marker: Some("m".into()),
    });
    assert!(r
        .to_xml("r")
        .contains("<PolicyNames></PolicyNames><IsTruncated>true</IsTruncated><Marker>m</Marker>"));
}

#[test]
fn maps_in_responses_use_entry_key_value() {
    let r = iam::Response::SimulatePrincipalPolicy(iam::SimulatePolicyResponse {
        evaluation_results: Some(vec![iam::EvaluationResult {
            eval_action_name: Some("s3:GetObject".into()),
            eval_decision: Some("allowed".into()),
            eval_decision_details: Some(BTreeMap::from([
                ("IAM Policy".to_string(), "allowed".to_string()),
                (
                    "Permissions Boundary Policy".to_string(),
                    "implicitDeny".to_string(),
                ),
            ])),
            ..Default::default()
        }]),
        is_truncated: Some(false),
        marker: None,
    });
    assert!(r.to_xml("r").contains(
        "<SimulatePrincipalPolicyResult><EvaluationResults><member><EvalActionName>s3:GetObject</EvalActionName>\
         <EvalDecision>allowed</EvalDecision><EvalDecisionDetails>\
         <entry><key>IAM Policy</key><value>allowed</value></entry>\
         <entry><key>Permissions Boundary Policy</key><value>implicitDeny</value></entry>\
         </EvalDecisionDetails></member></EvaluationResults><IsTruncated>false</IsTruncated></SimulatePrincipalPolicyResult>"
    ));
}

#[test]
fn policy_documents_in_responses_are_url_encoded() {
    let doc = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:Get*\",\"Resource\":\"arn:aws:s3:::b/a b+c\"}]}";
    let r = iam::Response::GetRolePolicy(iam::GetRolePolicyResponse {
        role_name: Some("r".into()),
        policy_name: Some("p".into()),
        policy_document: Some(doc.into()),
    });
    let xml = r.to_xml("id");
    let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGet%2A%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Ab%2Fa%20b%2Bc%22%7D%5D%7D";
    assert_eq!(
        xml,
        format!(
            "<GetRolePolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
             <GetRolePolicyResult><RoleName>r</RoleName><PolicyName>p</PolicyName>\
             <PolicyDocument>{encoded}</PolicyDocument></GetRolePolicyResult>\
             <ResponseMetadata><RequestId>id</RequestId></ResponseMetadata></GetRolePolicyResponse>"
        )
    );
    assert_eq!(encode_policy_document(doc), encoded);
    assert_eq!(decode_policy_document(encoded).as_deref(), Some(doc));
    // Role.AssumeRolePolicyDocument and PolicyVersion.Document too.
    let role = iam::Response::GetRole(iam::GetRoleResponse {
        role: Some(iam::Role {
            assume_role_policy_document: Some("{\"a\": \"é\"}".into()),
            ..Default::default()
        }),
    });
    assert!(role.to_xml("x").contains(
        "<AssumeRolePolicyDocument>%7B%22a%22%3A%20%22%C3%A9%22%7D</AssumeRolePolicyDocument>"
    ));
    let version = iam::Response::GetPolicyVersion(iam::GetPolicyVersionResponse {
        policy_version: Some(iam::PolicyVersion {
            document: Some("{}".into()),
            is_default_version: Some(true),
            ..Default::default()
        }),
    });
    assert!(version
        .to_xml("x")
        .contains("<PolicyVersion><Document>%7B%7D</Document><IsDefaultVersion>true</IsDefaultVersion></PolicyVersion>"));
}

#[test]
fn policy_document_round_trip_of_any_text() {
    for doc in ["", "{}", "a+b c%20d", "\n\t\"'<>&", "ünïcödé ✓ 😀"] {
        let e = encode_policy_document(doc);
        assert!(
            e.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)),
            "{e}"
        );
        assert_eq!(decode_policy_document(&e).as_deref(), Some(doc));
    }
}

#[test]
fn sts_responses() {
    let r = sts::Response::GetCallerIdentity(sts::GetCallerIdentityResponse {
        user_id: Some("AIDAEXAMPLE".into()),
        account: Some("123456789012".into()),
        arn: Some("arn:aws:iam::123456789012:user/bob".into()),
    });
    assert_eq!(
        r.to_xml("r"),
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <GetCallerIdentityResult><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>\
         <Arn>arn:aws:iam::123456789012:user/bob</Arn></GetCallerIdentityResult>\
         <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
    );
    let r = sts::Response::AssumeRole(sts::AssumeRoleResponse {
        credentials: Some(sts::Credentials {
            access_key_id: Some("ASIAEXAMPLE".into()),
            secret_access_key: Some("secret/+=".into()),
            session_token: Some("tok".into()),
            expiration: Some("2026-01-01T01:00:00Z".into()),
        }),
        assumed_role_user: Some(sts::AssumedRoleUser {
            assumed_role_id: Some("AROAEXAMPLE:s".into()),
            arn: Some("arn:aws:sts::123456789012:assumed-role/r/s".into()),
        }),
        packed_policy_size: Some(6),
        ..Default::default()
    });
    assert_eq!(
        r.to_xml("r"),
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
         <Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>secret/+=</SecretAccessKey>\
         <SessionToken>tok</SessionToken><Expiration>2026-01-01T01:00:00Z</Expiration></Credentials>\
         <AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId>\
         <Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn></AssumedRoleUser>\
         <PackedPolicySize>6</PackedPolicySize></AssumeRoleResult>\
         <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>"
    );
}

#[test]
fn text_escaping() {
    let mut out = String::new();
    crate::query::xml_text(&mut out, "a&b<c>d\"e'f\r\n\tg\u{1}h\u{FFFF}");
    assert_eq!(out, "a&amp;b&lt;c&gt;d\"e'f&#xD;\n\tg\u{FFFD}h\u{FFFD}");
}

// ---- errors --------------------------------------------------------------

#[test]
fn error_envelope() {
    let err = ApiError::new(
        ErrorCode::NoSuchEntity,
        "The role with name X cannot be found.",
    );
    let r = query_error_response(QueryService::Iam, &err, "req-9");
    assert_eq!(r.status, 404);
    assert_eq!(r.headers, vec![("content-type", "text/xml".to_string())]);
    assert_eq!(
        body(&r),
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
         <Code>NoSuchEntity</Code><Message>The role with name X cannot be found.</Message></Error>\
         <RequestId>req-9</RequestId></ErrorResponse>"
    );
    let err = ApiError::new(ErrorCode::ServiceFailure, "<boom> & co");
    let r = query_error_response(QueryService::Sts, &err, "r");
    assert_eq!(r.status, 500);
    assert_eq!(
        body(&r),
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Receiver</Type>\
         <Code>ServiceFailure</Code><Message>&lt;boom&gt; &amp; co</Message></Error>\
         <RequestId>r</RequestId></ErrorResponse>"
    );
    // The protocol-generic entry point.
    let r = error_response(
        Protocol::AwsQuery,
        &ApiError::new(ErrorCode::QueryAccessDenied, "no"),
        "r",
    );
    assert_eq!(r.status, 403);
    assert!(body(&r).contains("<Code>AccessDenied</Code>"));
}

#[test]
fn error_codes_match_the_models() {
    let expect = [
        (ErrorCode::NoSuchEntity, "NoSuchEntity", 404),
        (ErrorCode::EntityAlreadyExists, "EntityAlreadyExists", 409),
        (ErrorCode::LimitExceeded, "LimitExceeded", 409),
        (
            ErrorCode::ConcurrentModification,
            "ConcurrentModification",
            409,
        ),
        (ErrorCode::DeleteConflict, "DeleteConflict", 409),
        (
            ErrorCode::MalformedPolicyDocument,
            "MalformedPolicyDocument",
            400,
        ),
        (ErrorCode::InvalidInput, "InvalidInput", 400),
        (ErrorCode::UnmodifiableEntity, "UnmodifiableEntity", 400),
        (ErrorCode::PolicyNotAttachable, "PolicyNotAttachable", 400),
        (ErrorCode::PolicyEvaluation, "PolicyEvaluation", 500),
        (ErrorCode::ServiceFailure, "ServiceFailure", 500),
        (ErrorCode::PackedPolicyTooLarge, "PackedPolicyTooLarge", 400),
        (
            ErrorCode::RegionDisabledException,
            "RegionDisabledException",
            403,
        ),
        (
            ErrorCode::StsExpiredTokenException,
            "ExpiredTokenException",
            400,
        ),
        (
            ErrorCode::InvalidContextAssertion,
            "InvalidContextAssertion",
            400,
        ),
        (ErrorCode::QueryValidationError, "ValidationError", 400),
        (ErrorCode::QueryAccessDenied, "AccessDenied", 403),
        (ErrorCode::QueryMissingAction, "MissingAction", 400),
        (ErrorCode::QueryInvalidAction, "InvalidAction", 400),
        (ErrorCode::QueryExpiredToken, "ExpiredToken", 403),
        (
            ErrorCode::ExpiredTokenException,
            "ExpiredTokenException",
            400,
        ),
        (
            ErrorCode::QueryInvalidClientTokenId,
            "InvalidClientTokenId",
            403,
        ),
        (
            ErrorCode::QuerySignatureDoesNotMatch,
            "SignatureDoesNotMatch",
            403,
        ),
        (ErrorCode::AccessDenied, "AccessDeniedException", 403),
    ];
    for (code, s, status) in expect {
        assert_eq!((code.as_str(), code.status()), (s, status), "{code:?}");
    }
    assert_eq!(
        iam::Operation::CreateUser.errors(),
        &[
            ErrorCode::LimitExceeded,
            ErrorCode::EntityAlreadyExists,
            ErrorCode::NoSuchEntity,
            ErrorCode::InvalidInput,
            ErrorCode::ConcurrentModification,
            ErrorCode::ServiceFailure
        ]
    );
    assert_eq!(iam::Operation::ALL.len(), 62);
    assert_eq!(sts::Operation::ALL.len(), 3);
    for op in iam::Operation::ALL {
        assert_eq!(iam::Operation::from_action(op.name()), Some(*op));
    }
}

#[test]
fn generated_patterns_compile() {
    for p in iam::PATTERNS.iter().chain(sts::PATTERNS) {
        assert!(matches(p, "x").is_some(), "{p}");
    }
    assert!(!iam::PATTERNS.is_empty() && !sts::PATTERNS.is_empty());
}

// ---- never panic -------------------------------------------------------

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn decode_everything(f: &QueryForm) {
        for service in QueryService::ALL {
            let _ = QueryService::for_form(f, Some(service.signing_name()));
            let _ = service.decode(f);
        }
    }

    fn key() -> impl Strategy<Value = String> {
        let part = prop::sample::select(vec![
            "Tags",
            "member",
            "entry",
            "key",
            "value",
            "Key",
            "Value",
            "1",
            "2",
            "0",
            "01",
            "4294967296",
            "UserName",
            "MaxItems",
            "ContextEntries",
            "ContextKeyValues",
            "PolicyArns",
            "arn",
            "ProvidedContexts",
            "OnlyAttached",
            "DurationSeconds",
            "",
            "PolicyInputList",
            "ActionNames",
            "TagKeys",
            "ĳ",
        ]);
        prop::collection::vec(part, 1..6).prop_map(|parts| parts.join("."))
    }

    proptest! {
        #[test]
        fn arbitrary_bodies(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(f) = QueryForm::parse(&bytes) {
                decode_everything(&f);
            }
        }

        #[test]
        fn arbitrary_parameters_for_every_action(
            params in prop::collection::vec((key(), ".{0,12}"), 0..24),
            action in prop::sample::select(
                iam::Operation::ALL.iter().map(|o| o.name())
                    .chain(sts::Operation::ALL.iter().map(|o| o.name()))
                    .collect::<Vec<_>>()
            ),
        ) {
            let mut pairs = vec![("Action".to_string(), action.to_string())];
            pairs.extend(params);
            let f = QueryForm::from_pairs(pairs);
            decode_everything(&f);
        }

        #[test]
        fn responses_are_well_formed_for_any_text(text in ".{0,40}") {
            let r = iam::Response::GetUser(iam::GetUserResponse {
                user: Some(iam::User { user_name: Some(text.clone()), ..Default::default() }),
            });
            let xml = r.to_xml(&text);
            let empty = iam::Response::GetUser(iam::GetUserResponse {
                user: Some(iam::User { user_name: Some(String::new()), ..Default::default() }),
            });
            // Every `<` is markup: the text never opens an element.
            prop_assert_eq!(xml.matches('<').count(), empty.to_xml("").matches('<').count());
            let e = encode_policy_document(&text);
            prop_assert_eq!(decode_policy_document(&e), Some(text));
        }
    }
}
