//! Where an import reads CloudTrail log files: a directory under the
//! operator's `--import-dir` (`file:///…`, a Cairn extension) or a bucket of
//! the S3-compatible service at `--import-s3-endpoint` (`s3://bucket/prefix`).
//!
//! A bucket is read with the server's S3 credentials (the standard `AWS_*`
//! environment), but only as far as the import's role lets CloudTrail:
//! the role must trust `cloudtrail.amazonaws.com`, and its policies must
//! allow `s3:ListBucket` on the bucket and `s3:GetObject` on each file, as
//! AWS requires of `S3BucketAccessRoleArn`. A file the role may not read is
//! one `AccessDenied` failure while the others import.

use futures::TryStreamExt;
use iam_policy::Context;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, RetryConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The path component that CloudTrail log files live under.
const LOGS: &str = "CloudTrail";

/// The directory of digest files, which are not event logs.
const DIGESTS: &str = "CloudTrail-Digest";

/// The service that reads a bucket for an import, with the import's role.
pub(crate) const IMPORTER: &str = "cloudtrail.amazonaws.com";

/// A source of log files.
pub(crate) enum Source {
    Dir(PathBuf),
    Bucket(Box<Bucket>),
}

/// An S3 bucket, read with the permissions of the import's role.
pub(crate) struct Bucket {
    store: Arc<dyn ObjectStore>,
    name: String,
    /// The key prefix (no leading or trailing `/`), possibly empty.
    prefix: String,
    iam: Arc<iam::Iam>,
    /// The role's session, as CloudTrail would hold it.
    reader: iam::Caller,
}

/// One file to import: its name relative to the source and its size.
pub(crate) struct LogFile {
    pub name: String,
    pub size: u64,
    /// Where a bucket's file is, as the listing gave it (a key rebuilt from
    /// `name` would be percent-encoded twice).
    location: Option<ObjectPath>,
}

/// A read failure that says the source itself is not answering (rather
/// than that one file is bad): enough of them in a row end the import.
pub(crate) const SOURCE_UNAVAILABLE: &str = "SourceUnavailable";

/// Why a file could not be read: (error type, message), as
/// ListImportFailures shows them.
pub(crate) type ReadFailure = (String, String);

/// `s3://bucket/prefix` as (bucket, prefix), or why not.
pub(crate) fn parse_s3_uri(uri: &str) -> Result<(String, String), String> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{uri} is not an s3://bucket/prefix URI."))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !valid {
        return Err(format!("{bucket:?} in {uri} is not a valid S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens)."));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// Whether the file at `rel` (relative to a source whose own path is
/// `root_parts`) is one to import: anything under a `CloudTrail` prefix
/// (the others become failures there), never a digest.
fn is_log_file<'a>(root_parts: impl Iterator<Item = &'a str> + Clone, rel: &'a str) -> bool {
    let rel_parts: Vec<&str> = rel.split('/').collect();
    let dirs = &rel_parts[..rel_parts.len().saturating_sub(1)];
    let all = || root_parts.clone().chain(dirs.iter().copied());
    all().any(|p| p == LOGS) && !all().any(|p| p == DIGESTS)
}

/// The log files under directory `root`, sorted, relative to it.
fn dir_files(root: &Path) -> std::io::Result<Vec<LogFile>> {
    let root_parts: Vec<String> = root
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if entry.file_name() != DIGESTS {
                    stack.push(path);
                }
            } else if kind.is_file() {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let rel = rel
                    .to_string_lossy()
                    .replace(std::path::MAIN_SEPARATOR, "/");
                if is_log_file(root_parts.iter().map(String::as_str), &rel) {
                    out.push(LogFile {
                        name: rel,
                        size: entry.metadata()?.len(),
                        location: None,
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

impl Bucket {
    /// The bucket `name` of the service at `endpoint` in `region`, read as
    /// `reader` (a role session of the importing account) may.
    pub(crate) fn open(
        endpoint: &str,
        region: &str,
        name: &str,
        prefix: &str,
        iam: Arc<iam::Iam>,
        reader: iam::Caller,
    ) -> Result<Self, String> {
        let store = AmazonS3Builder::from_env()
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .with_region(region)
            .with_bucket_name(name)
            // An unreachable endpoint fails the import in seconds, not minutes.
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..Default::default()
            })
            .build()
            .map_err(|e| format!("Cannot use bucket {name} at {endpoint}: {e}."))?;
        Ok(Self {
            store: Arc::new(store),
            name: name.to_string(),
            prefix: prefix.to_string(),
            iam,
            reader,
        })
    }

    /// Asks whether the role may do `action` on `resource`: the AWS
    /// AccessDenied message if not.
    pub(crate) fn role_may(
        &self,
        action: &str,
        resource: &str,
        context: Context,
    ) -> Result<(), String> {
        let access = iam::Access {
            action,
            resource,
            resource_account: &self.reader.account_id,
            resource_policy: None,
            context,
        };
        self.iam
            .authorize(&self.reader, access)
            .map_err(|denied| denied.aws_message)
    }

    /// May the role list the prefix? (AWS's AccessDenied message if not.)
    pub(crate) fn may_list(&self) -> Result<(), String> {
        // As the list requests send it: the prefix as a "folder".
        let prefix = match self.prefix.as_str() {
            "" => String::new(),
            p => format!("{p}/"),
        };
        let context = Context::new().with("s3:prefix", prefix);
        self.role_may(
            "s3:ListBucket",
            &format!("arn:aws:s3:::{}", self.name),
            context,
        )
    }

    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    async fn files(&self) -> Result<Vec<LogFile>, String> {
        self.may_list()?;
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let objects: Vec<_> = self
            .store
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(|e| self.failure("Listing", &e))?;
        let root_parts: Vec<&str> = self.prefix.split('/').collect();
        let mut out: Vec<LogFile> = objects
            .into_iter()
            .filter_map(|o| {
                let key = o.location.as_ref();
                let rel = match self.prefix.as_str() {
                    "" => key,
                    p => key.strip_prefix(p)?.strip_prefix('/')?,
                };
                is_log_file(root_parts.iter().copied(), rel).then(|| LogFile {
                    name: rel.to_string(),
                    size: o.size,
                    location: Some(o.location.clone()),
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        // An empty object named like a folder of other keys is the marker
        // the S3 console leaves, not a log file.
        let folders: std::collections::HashSet<&str> = out
            .iter()
            .filter_map(|f| f.name.rsplit_once('/').map(|(dir, _)| dir))
            .flat_map(|dir| {
                dir.match_indices('/')
                    .map(move |(i, _)| &dir[..i])
                    .chain(std::iter::once(dir))
            })
            .collect();
        let markers: std::collections::HashSet<String> = out
            .iter()
            .filter(|f| f.size == 0 && folders.contains(f.name.as_str()))
            .map(|f| f.name.clone())
            .collect();
        out.retain(|f| !markers.contains(&f.name));
        Ok(out)
    }

    /// What the caller is told of an S3 error: no endpoint, no raw
    /// response (the server's log has those).
    fn failure(&self, doing: &str, e: &object_store::Error) -> String {
        tracing::warn!(bucket = %self.name, error = %e, "{doing} an import's bucket failed");
        // A missing bucket comes back from a listing as a generic error
        // whose body carries S3's code.
        let missing = matches!(e, object_store::Error::NotFound { .. })
            || e.to_string().contains("<Code>NoSuchBucket</Code>");
        match e {
            _ if missing => format!(
                "{doing} bucket {} failed: there is no such bucket (or the server's S3 credentials cannot see it)",
                self.name
            ),
            object_store::Error::InvalidPath { .. } => format!(
                "{doing} bucket {} failed: it holds a key Cairn cannot address (a \".\" or \"..\" segment, an empty segment or a control character) ({e})",
                self.name
            ),
            _ => format!(
                "{doing} bucket {} failed: the S3 service did not answer as expected (the Cairn server's log says why)",
                self.name
            ),
        }
    }

    async fn read(&self, file: &LogFile) -> Result<Vec<u8>, ReadFailure> {
        let key = self.key(&file.name);
        self.role_may(
            "s3:GetObject",
            &format!("arn:aws:s3:::{}/{key}", self.name),
            Context::new(),
        )
        .map_err(|m| ("AccessDenied".to_string(), m))?;
        let location = file
            .location
            .clone()
            .unwrap_or_else(|| ObjectPath::from(key.as_str()));
        let read = async { self.store.get(&location).await?.bytes().await };
        match read.await {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(object_store::Error::NotFound { .. }) => Err((
                "FileReadError".into(),
                format!("s3://{}/{key} is gone.", self.name),
            )),
            Err(e) => Err((SOURCE_UNAVAILABLE.into(), self.failure("Reading", &e))),
        }
    }
}

impl Source {
    /// The log files to import, sorted by name.
    pub(crate) async fn files(&self) -> Result<Vec<LogFile>, String> {
        match self {
            Source::Dir(root) => {
                let root = root.clone();
                tokio::task::spawn_blocking(move || dir_files(&root))
                    .await
                    .map_err(|e| format!("listing failed: {e}"))?
                    .map_err(|e| e.to_string())
            }
            Source::Bucket(b) => b.files().await,
        }
    }

    /// The raw bytes of `file` (at most `max` of them), or why not.
    pub(crate) async fn read(&self, file: &LogFile, max: u64) -> Result<Vec<u8>, ReadFailure> {
        if file.size > max {
            return Err((
                "FileTooLarge".into(),
                format!(
                    "The file is {} bytes; log files over {} MB are not imported.",
                    file.size,
                    max / (1024 * 1024)
                ),
            ));
        }
        match self {
            Source::Dir(root) => {
                let path = root.join(&file.name);
                tokio::task::spawn_blocking(move || std::fs::read(path))
                    .await
                    .map_err(|e| ("FileReadError".to_string(), e.to_string()))?
                    .map_err(|e| ("FileReadError".to_string(), e.to_string()))
            }
            Source::Bucket(b) => b.read(file).await,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn s3_uris_name_a_valid_bucket_and_an_optional_prefix() {
        assert_eq!(
            parse_s3_uri("s3://trail-logs").unwrap(),
            ("trail-logs".into(), String::new())
        );
        assert_eq!(
            parse_s3_uri("s3://trail-logs/org/AWSLogs/").unwrap(),
            ("trail-logs".into(), "org/AWSLogs".into())
        );
        for bad in [
            "s3://",
            "s3://ab",
            "s3://Upper",
            "s3://-x-y",
            "s3://a_b/c",
            "file:///x",
            "s3://x.y.",
        ] {
            assert!(parse_s3_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn log_files_are_under_cloudtrail_and_never_digests() {
        let top = || "".split('/').filter(|p| !p.is_empty());
        assert!(is_log_file(
            top(),
            "AWSLogs/1/CloudTrail/us-east-1/2024/01/02/a.json.gz"
        ));
        assert!(!is_log_file(
            top(),
            "AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/02/d.json.gz"
        ));
        assert!(!is_log_file(top(), "AWSLogs/1/Config/x.json.gz"));
        // The file's own name does not count as a prefix.
        assert!(!is_log_file(top(), "AWSLogs/1/CloudTrail"));
        // A source inside the CloudTrail prefix takes everything below it.
        let inside = || "AWSLogs/1/CloudTrail".split('/');
        assert!(is_log_file(inside(), "us-east-1/a.json.gz"));
        assert!(is_log_file(inside(), "a.json.gz"));
        let digests = || "AWSLogs/1/CloudTrail-Digest".split('/');
        assert!(!is_log_file(digests(), "us-east-1/d.json.gz"));
    }

    fn names(root: &Path) -> Vec<String> {
        dir_files(root)
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect()
    }

    #[test]
    fn a_directory_lists_its_cloudtrail_files() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("AWSLogs/111122223333");
        for f in [
            "CloudTrail/us-east-1/2024/01/02/a.json.gz",
            "CloudTrail/us-east-1/2024/01/02/plain.json",
            "CloudTrail-Digest/us-east-1/2024/01/02/d.json.gz",
            "Config/us-east-1/x.json.gz",
        ] {
            std::fs::create_dir_all(base.join(f).parent().unwrap()).unwrap();
            std::fs::write(base.join(f), "{}").unwrap();
        }
        assert_eq!(
            names(d.path()),
            [
                "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/a.json.gz",
                "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/plain.json",
            ]
        );
        assert_eq!(
            names(&base.join("CloudTrail/us-east-1")),
            ["2024/01/02/a.json.gz", "2024/01/02/plain.json"]
        );
    }
}
