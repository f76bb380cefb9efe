//! The `<…Result>` of an awsQuery (IAM, STS) XML response as JSON, for the
//! responseElements of the call's CloudTrail record: elements become object
//! members, `<member>` lists arrays, text strings (the audit record then
//! puts member names in lowerCamel case and hides secrets).

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value};

/// One element being read: its name, members and text so far.
struct Open {
    name: String,
    members: Vec<(String, Value)>,
    text: String,
}

impl Open {
    fn new(name: String) -> Self {
        Self {
            name,
            members: Vec::new(),
            text: String::new(),
        }
    }

    /// The element's value once closed.
    fn value(self) -> Value {
        if self.members.is_empty() {
            return Value::String(self.text);
        }
        if self.members.iter().all(|(k, _)| k == "member") {
            return Value::Array(self.members.into_iter().map(|(_, v)| v).collect());
        }
        Value::Object(self.members.into_iter().collect::<Map<_, _>>())
    }
}

/// The contents of the response's `…Result` element; `None` when there is
/// none, it is empty, or the body is not well-formed XML.
pub(crate) fn result_elements(body: &[u8]) -> Option<Value> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Open> = Vec::new();
    let mut result = None;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                stack.push(Open::new(name));
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if let Some(parent) = stack.last_mut() {
                    parent.members.push((name, Value::String(String::new())));
                }
            }
            Event::Text(t) => stack.last_mut()?.text.push_str(&t.xml10_content().ok()?),
            Event::CData(t) => stack.last_mut()?.text.push_str(&t.decode().ok()?),
            Event::GeneralRef(r) => {
                let decoded = r.decode().ok()?;
                let text = match r.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&decoded)?.to_string(),
                };
                stack.last_mut()?.text.push_str(&text);
            }
            Event::End(_) => {
                let done = stack.pop()?;
                let is_result = done.name.ends_with("Result") && stack.len() == 1;
                let name = done.name.clone();
                let value = done.value();
                if is_result {
                    result = Some(value);
                } else if let Some(parent) = stack.last_mut() {
                    parent.members.push((name, value));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    result.filter(|v| match v {
        Value::Object(m) => !m.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_result_becomes_json() {
        let body = br#"<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <CreateUserResult>
    <User>
      <Path>/</Path>
      <UserName>a&amp;b&#65;</UserName>
      <Arn>arn:aws:iam::111122223333:user/ab</Arn>
      <Tags><member><Key>team</Key><Value>x</Value></member><member><Key>k</Key><Value/></member></Tags>
    </User>
  </CreateUserResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</CreateUserResponse>"#;
        assert_eq!(
            result_elements(body).unwrap(),
            json!({"User": {"Path": "/", "UserName": "a&bA", "Arn": "arn:aws:iam::111122223333:user/ab",
                "Tags": [{"Key": "team", "Value": "x"}, {"Key": "k", "Value": ""}]}})
        );
    }

    #[test]
    fn no_result_or_bad_xml_is_none() {
        let empty = br#"<DeleteUserResponse><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>"#;
        assert_eq!(result_elements(empty), None);
        let blank = br#"<X><AttachUserPolicyResult></AttachUserPolicyResult></X>"#;
        assert_eq!(result_elements(blank), None);
        assert_eq!(result_elements(b"<a><b></a>"), None);
        assert_eq!(result_elements(b"not xml &bogus;"), None);
        assert_eq!(result_elements(b""), None);
    }
}
