//! ARNs of Cairn's resources, and "ARN or id" parameters.

/// The parts of `arn:aws:cloudtrail:<region>:<account>:<kind>/<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceArn {
    pub region: String,
    pub account: String,
    pub kind: String,
    pub id: String,
}

/// How a parameter named a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Named {
    /// A full ARN of the expected kind.
    Arn(ResourceArn),
    /// A bare id (the ARN suffix).
    Id(String),
}

impl Named {
    pub fn id(&self) -> &str {
        match self {
            Named::Arn(a) => &a.id,
            Named::Id(id) => id,
        }
    }
}

pub(crate) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

/// Parses any CloudTrail resource ARN.
pub(crate) fn parse(arn: &str) -> Option<ResourceArn> {
    let mut parts = arn.splitn(6, ':');
    let (
        Some("arn"),
        Some(partition),
        Some("cloudtrail"),
        Some(region),
        Some(account),
        Some(resource),
    ) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    )
    else {
        return None;
    };
    let (kind, id) = resource.split_once('/')?;
    let ok = !partition.is_empty()
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|c| c.is_ascii_digit())
        && valid_id(id);
    ok.then(|| ResourceArn {
        region: region.into(),
        account: account.into(),
        kind: kind.into(),
        id: id.into(),
    })
}

/// An "ARN or id" parameter for a resource of `kind` (`channel`, `eventdatastore`).
/// `None` when it is neither a well-formed ARN of that kind nor a bare id.
pub(crate) fn named(value: &str, kind: &str) -> Option<Named> {
    if value.starts_with("arn:") {
        parse(value).filter(|a| a.kind == kind).map(Named::Arn)
    } else if is_uuid(value) {
        Some(Named::Id(value.to_ascii_lowercase()))
    } else {
        None
    }
}

pub(crate) fn format(region: &str, account: &str, kind: &str, id: &str) -> String {
    format!("arn:aws:cloudtrail:{region}:{account}:{kind}/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_arns_and_ids() {
        let arn = "arn:aws:cloudtrail:us-east-1:111122223333:channel/EXAMPLE8-0558-4f7e-a06a-43969EXAMPLE";
        assert!(
            matches!(named(arn, "channel"), Some(Named::Arn(a)) if a.account == "111122223333")
        );
        assert_eq!(named(arn, "eventdatastore"), None);
        assert_eq!(
            named(
                "arn:aws:cloudtrail:us-east-1:111122223333:channel",
                "channel"
            ),
            None
        );
        assert_eq!(named("arn:aws:s3:::amzn-s3-demo-bucket", "channel"), None);
        assert_eq!(named("not-an-arn", "channel"), None);
        assert_eq!(
            named("arn:aws:cloudtrail:us-east-1:1111:channel/x", "channel"),
            None
        );
        assert!(
            matches!(named("8B4D5E0A-1C2D-4E5F-8A9B-0C1D2E3F4A5B", "channel"), Some(Named::Id(id)) if id.starts_with("8b4d"))
        );
    }
}
