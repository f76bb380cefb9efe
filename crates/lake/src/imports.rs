//! Imports of CloudTrail log files into an event data store: StartImport,
//! GetImport, ListImports, ListImportFailures, StopImport, with AWS's rules
//! (spec §9): only gzip-compressed log files under a `CloudTrail` prefix,
//! digest files skipped, one failure entry per bad file while the rest
//! import, one import at a time per account, and a retry by ImportId that
//! resumes after the files already imported.
//!
//! Sources (see [`crate::import_source`]) are `s3://bucket/prefix` on the
//! operator's S3-compatible service, read as the import's role may, and
//! `file:///path` directories under the operator's `--import-dir` (a Cairn
//! extension: it keeps API callers from reading anything else on the host).
//!
//! Events go through the ingest log like any other, each file's in one
//! append, so an imported file is durable and queryable as a whole. A
//! crash between that append and the record of the file's completion
//! imports the file again on retry: its events would then appear twice.

use crate::arn;
use crate::import_source::{self, Bucket, LogFile, Source, IMPORTER, SOURCE_UNAVAILABLE};
use crate::{epoch, from_doc, paging, storage, to_doc, Caller, Lake};
use iam_policy::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tables::LoggedEvent;
use wire::cloudtrail::*;
use wire::{ApiError, ErrorCode};

pub(crate) const KIND: &str = "import";

/// The largest log file read (AWS: 50 MB compressed).
const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;

/// The most JSON one log file may hold once decompressed.
const MAX_JSON_BYTES: u64 = 256 * 1024 * 1024;

/// Records per ingest log append (one append is at most 64 MiB).
const APPEND_RECORDS: usize = 1_000;

/// How often an import's progress is saved.
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Reads in a row that find the source not answering before the import
/// ends FAILED (rather than failing each remaining file in turn).
const UNAVAILABLE_IN_A_ROW: usize = 3;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Stats {
    prefixes_found: i64,
    prefixes_completed: i64,
    files_completed: i64,
    events_completed: i64,
    failed_entries: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Failure {
    location: String,
    status: String,
    error_type: String,
    error_message: String,
    time: f64,
}

/// A stored import.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Import {
    id: String,
    account: String,
    destination: String,
    /// The destination store's id (its table).
    eds_id: String,
    source: S3ImportSource,
    start_event_time: Option<f64>,
    end_event_time: Option<f64>,
    status: String,
    created: f64,
    updated: f64,
    stats: Stats,
    /// Files imported (paths relative to the source), skipped on retry.
    done: BTreeSet<String>,
    failures: Vec<Failure>,
}

impl Import {
    fn is_ongoing(&self) -> bool {
        self.status == "INITIALIZING" || self.status == "IN_PROGRESS"
    }

    fn statistics(&self) -> ImportStatistics {
        ImportStatistics {
            prefixes_found: Some(self.stats.prefixes_found),
            prefixes_completed: Some(self.stats.prefixes_completed),
            files_completed: Some(self.stats.files_completed),
            events_completed: Some(self.stats.events_completed),
            failed_entries: Some(self.stats.failed_entries),
        }
    }
}

fn err(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

fn not_found(id: &str) -> ApiError {
    err(
        ErrorCode::ImportNotFound,
        format!(
            "There is no import {id} in this account: ListImports shows the imports there are."
        ),
    )
}

/// The CloudTrail records of one log file's bytes, or why it cannot be
/// imported: (error type, message).
fn decode_log_file(raw: &[u8], max_json: u64) -> Result<Vec<Value>, (String, String)> {
    let fail = |t: &str, m: String| (t.to_string(), m);
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Err(fail(
            "InvalidFileFormat",
            "The file is not gzip-compressed: only CloudTrail log files (.json.gz) are imported."
                .into(),
        ));
    }
    // The compressed size says little about the uncompressed one (a gzip
    // bomb): read at most one byte past the limit.
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .take(max_json.saturating_add(1))
        .read_to_end(&mut text)
        .map_err(|e| {
            fail(
                "InvalidFileFormat",
                format!("The gzip data is damaged: {e}."),
            )
        })?;
    if text.len() as u64 > max_json {
        return Err(fail(
            "FileTooLarge",
            format!("The file holds more than {max_json} bytes of JSON once decompressed; larger log files are not imported."),
        ));
    }
    let mut doc: Value = serde_json::from_slice(&text).map_err(|e| {
        fail(
            "InvalidFileFormat",
            format!("The file is not a CloudTrail log file (JSON: {e})."),
        )
    })?;
    drop(text);
    match doc.get_mut("Records").map(Value::take) {
        Some(Value::Array(records)) => Ok(records),
        _ => Err(fail(
            "InvalidFileFormat",
            "The file is not a CloudTrail log file: it has no \"Records\" list.".into(),
        )),
    }
}

/// Seconds since the epoch of a record's eventTime, read as the event
/// tables read it (a record they could not place is not imported).
fn record_time(r: &Value) -> Option<f64> {
    Some(epoch(query::parse_event_time(
        r.get("eventTime")?.as_str()?,
    )?))
}

impl Lake {
    fn save_import(&self, i: &Import, new: bool) -> Result<(), ApiError> {
        let doc = to_doc(i)?;
        if new {
            self.meta.insert(KIND, &i.account, &i.id, None, &doc)
        } else {
            self.meta
                .replace(KIND, &i.account, &i.id, None, &doc)
                .map(|_| ())
        }
        .map_err(storage)
    }

    fn load_import(&self, account: &str, id: &str) -> Result<Import, ApiError> {
        match self.meta.get(KIND, account, id).map_err(storage)? {
            Some(doc) => from_doc(&doc),
            None => Err(not_found(id)),
        }
    }

    fn imports(&self, account: &str) -> Result<Vec<Import>, ApiError> {
        self.documents(KIND, account)
    }

    /// Marks imports that a restart interrupted as FAILED: a retry by
    /// ImportId resumes them.
    pub(crate) fn fail_interrupted_imports(&self) -> Result<(), ApiError> {
        for account in self.meta.accounts().map_err(storage)? {
            for mut i in self.imports(&account.id)? {
                if i.is_ongoing() {
                    let now = epoch(self.now());
                    i.status = "FAILED".into();
                    i.updated = now;
                    i.failures.push(Failure {
                        location: i.source.s3_location_uri.clone().unwrap_or_default(),
                        status: "FAILED".into(),
                        error_type: "ImportInterrupted".into(),
                        error_message: "The Cairn server stopped while the import ran; retry it by ImportId to import the files not done yet.".into(),
                        time: now,
                    });
                    i.stats.failed_entries += 1;
                    self.save_import(&i, false)?;
                }
            }
        }
        Ok(())
    }

    /// Stops every running import before the next file and waits up to
    /// `patience` for their progress to be saved, so that a retry after a
    /// restart imports no file twice. True when all of them ended.
    pub async fn wind_down_imports(&self, patience: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match self.import_runs() {
                Ok(runs) if runs.is_empty() => return true,
                Ok(runs) => runs.values().for_each(|s| s.store(true, Ordering::Release)),
                Err(_) => return false,
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The imports whose task is running, with the flag that stops it.
    fn import_runs(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<String, Arc<AtomicBool>>>, ApiError> {
        self.import_runs
            .lock()
            .map_err(|_| crate::internal("the import registry is unavailable; retry"))
    }

    /// The source an import of `account` reads: a bucket (with the import's
    /// role) or a directory.
    fn import_source(
        &self,
        account: &str,
        source: &S3ImportSource,
        destination: &str,
    ) -> Result<Source, ApiError> {
        let uri = source.s3_location_uri.as_deref().unwrap_or_default();
        let bad = |m: String| err(ErrorCode::InvalidImportSource, m);
        if !uri.starts_with("s3://") && !uri.starts_with("file://") {
            return Err(bad(format!(
                "S3LocationUri {uri:?} is neither s3://bucket/prefix nor file:///absolute/path."
            )));
        }
        if uri.starts_with("s3://") {
            let Some(endpoint) = &self.import_s3_endpoint else {
                return Err(bad(format!("This Cairn server does not read S3 buckets: its operator starts it with --import-s3-endpoint URL to import {uri}.")));
            };
            let (bucket, prefix) = import_source::parse_s3_uri(uri).map_err(bad)?;
            let role = source
                .s3_bucket_access_role_arn
                .as_deref()
                .unwrap_or_default();
            let reader = self
                .iam
                .service_session(account, role, IMPORTER, "CloudTrailImport", destination)
                .map_err(|e| match e.code {
                    ErrorCode::InternalFailure => e,
                    _ => bad(e.message),
                })?;
            let region = source.s3_bucket_region.as_deref().unwrap_or(&self.region);
            return Bucket::open(endpoint, region, &bucket, &prefix, self.iam.clone(), reader)
                .map(|b| Source::Bucket(Box::new(b)))
                .map_err(bad);
        }
        self.source_dir(account, uri).map(Source::Dir)
    }

    /// The directory a `file:///` URI names, if it is under the account's
    /// import directory (`--import-dir/<account id>/`): each account reads
    /// only its own files. Missing and forbidden paths get the same answer,
    /// so nothing about the rest of the host can be learnt from it.
    fn source_dir(&self, account: &str, uri: &str) -> Result<PathBuf, ApiError> {
        let bad = |m: String| err(ErrorCode::InvalidImportSource, m);
        let Some(base) = &self.import_dir else {
            return Err(bad("This Cairn server does not import local files: its operator starts it with --import-dir DIR, and each account imports directories under DIR/<account id>/.".into()));
        };
        let allowed = base.join(account);
        let Some(path) = uri.strip_prefix("file://").filter(|p| p.starts_with('/')) else {
            return Err(bad(format!(
                "S3LocationUri {uri} is neither s3://bucket/prefix nor file:///absolute/path."
            )));
        };
        let allowed = std::fs::canonicalize(&allowed).unwrap_or(allowed);
        match std::fs::canonicalize(path) {
            Ok(dir) if dir.starts_with(&allowed) && dir.is_dir() => Ok(dir),
            _ => Err(bad(format!(
                "{path} is not a directory under this account's import directory, {}: put the log files there.",
                allowed.display()
            ))),
        }
    }

    /// StartImport: a new import, or a retry of a failed or stopped one.
    pub async fn start_import(
        self: &Arc<Self>,
        caller: &Caller,
        input: StartImportRequest,
    ) -> Result<StartImportResponse, ApiError> {
        let _guard = self.control.lock().await;
        let now = epoch(self.now());
        let mut import = match &input.import_id {
            Some(id) => {
                self.allow(caller, "cloudtrail:StartImport", "*", Default::default())?;
                let i = self.load_import(&caller.account_id, id)?;
                if !matches!(i.status.as_str(), "FAILED" | "STOPPED") {
                    return Err(err(
                        ErrorCode::InvalidParameter,
                        format!(
                            "Import {id} is {}; only a FAILED or STOPPED import can be retried.",
                            i.status
                        ),
                    ));
                }
                i
            }
            None => {
                let destination = match input.destinations.as_deref() {
                    Some([d]) => d.clone(),
                    _ => return Err(err(ErrorCode::InvalidParameter, "A new import needs Destinations with exactly one event data store ARN (and ImportSource); to retry an import, pass its ImportId alone.")),
                };
                let source = input.import_source.as_ref().and_then(|s| s.s3.clone()).ok_or_else(|| {
                    err(ErrorCode::InvalidParameter, "A new import needs ImportSource.S3 with S3LocationUri, S3BucketRegion and S3BucketAccessRoleArn.")
                })?;
                if arn::named(&destination, "eventdatastore").is_none() {
                    return Err(err(
                        ErrorCode::EventDataStoreArnInvalid,
                        format!("{destination} is not an event data store ARN."),
                    ));
                }
                let store =
                    self.authorized_store(caller, "cloudtrail:StartImport", &destination)?;
                if store.takes_integration_events() {
                    return Err(err(ErrorCode::InvalidEventDataStoreCategory, format!("Event data store {} holds integration events (ActivityAuditLog); CloudTrail log files go into a store of CloudTrail events.", store.arn)));
                }
                // A store created with StartIngestion false holds only what
                // is imported into it (AWS's advice for copying trail events).
                if !matches!(store.status.as_str(), "ENABLED" | "STOPPED_INGESTION") {
                    return Err(err(ErrorCode::InvalidEventDataStoreStatus, format!("Event data store {} is {}; imports go into ENABLED or STOPPED_INGESTION stores.", store.arn, store.status)));
                }
                if let (Some(a), Some(b)) = (input.start_event_time, input.end_event_time) {
                    if a > b {
                        return Err(err(
                            ErrorCode::InvalidParameter,
                            "StartEventTime is after EndEventTime.",
                        ));
                    }
                }
                Import {
                    id: uuid::Uuid::new_v4().to_string(),
                    account: caller.account_id.clone(),
                    destination: store.arn.clone(),
                    eds_id: store.id.clone(),
                    source,
                    start_event_time: input.start_event_time,
                    end_event_time: input.end_event_time,
                    status: String::new(),
                    created: now,
                    updated: now,
                    stats: Stats::default(),
                    done: BTreeSet::new(),
                    failures: Vec::new(),
                }
            }
        };
        // What can be checked before the work starts, for a retry too (the
        // role may have changed): the source, and for a bucket, that the
        // role may list it and (new imports) that the caller may hand
        // CloudTrail the role.
        let new = import.status.is_empty();
        if let Source::Bucket(bucket) =
            self.import_source(&caller.account_id, &import.source, &import.destination)?
        {
            if new {
                let role = import
                    .source
                    .s3_bucket_access_role_arn
                    .as_deref()
                    .unwrap_or_default();
                let passed = Context::new().with("iam:PassedToService", IMPORTER);
                self.allow(caller, "iam:PassRole", role, passed)?;
            }
            bucket.may_list().map_err(|m| {
                err(
                    ErrorCode::InvalidImportSource,
                    format!("The role cannot list the source: {m}."),
                )
            })?;
        }
        if self.import_runs()?.contains_key(&import.id) {
            return Err(err(ErrorCode::InvalidParameter, format!("Import {} is still finishing the file it was reading when it was stopped; retry it in a few seconds.", import.id)));
        }
        if let Some(other) = self
            .imports(&caller.account_id)?
            .iter()
            .find(|i| i.is_ongoing())
        {
            return Err(err(ErrorCode::AccountHasOngoingImport, format!("Import {} is still {}: an account runs one import at a time. Wait for it, or StopImport it.", other.id, other.status)));
        }
        import.status = "INITIALIZING".into();
        import.updated = now;
        // A retry tries the failed files again.
        import.failures.clear();
        import.stats.failed_entries = 0;
        self.save_import(&import, new)?;
        let lake = self.clone();
        let (account, id) = (import.account.clone(), import.id.clone());
        let stop = Arc::new(AtomicBool::new(false));
        self.import_runs()?.insert(id.clone(), stop.clone());
        tokio::spawn(async move {
            let result = lake.run_import(&account, &id, &stop).await;
            // Only now may the import be retried: a stopped run never
            // overlaps the next one.
            if let Ok(mut runs) = lake.import_runs() {
                runs.remove(&id);
            }
            if let Err(e) = result {
                tracing::error!(import = %id, error = %e.message, "import failed");
            }
        });
        Ok(StartImportResponse {
            import_id: Some(import.id),
            destinations: Some(vec![import.destination]),
            import_source: Some(ImportSource {
                s3: Some(import.source),
            }),
            start_event_time: import.start_event_time,
            end_event_time: import.end_event_time,
            import_status: Some(import.status),
            created_timestamp: Some(import.created),
            updated_timestamp: Some(import.updated),
        })
    }

    /// Imports the files of import `id` not imported yet. A failure that
    /// ends it (a full disk, a storage error, a source gone) is saved with
    /// the progress so far and listed among its failures.
    async fn run_import(&self, account: &str, id: &str, stop: &AtomicBool) -> Result<(), ApiError> {
        let mut import = self.load_import(account, id)?;
        if import.status == "STOPPED" {
            return Ok(());
        }
        if let Err(e) = self.import_files(account, id, &mut import, stop).await {
            import.failures.push(Failure {
                location: import.source.s3_location_uri.clone().unwrap_or_default(),
                status: "FAILED".into(),
                error_type: e.code.as_str().to_string(),
                error_message: e.message.clone(),
                time: epoch(self.now()),
            });
            import.stats.failed_entries += 1;
            import.updated = epoch(self.now());
            self.save_progress(account, id, &mut import, Some("FAILED"))
                .await?;
            return Err(e);
        }
        Ok(())
    }

    async fn import_files(
        &self,
        account: &str,
        id: &str,
        import: &mut Import,
        stop: &AtomicBool,
    ) -> Result<(), ApiError> {
        let uri = import.source.s3_location_uri.clone().unwrap_or_default();
        let source = self.import_source(account, &import.source, &import.destination)?;
        let files = source.files().await.map_err(|e| {
            err(
                ErrorCode::InvalidImportSource,
                format!("Cannot list {uri}: {e}."),
            )
        })?;
        let prefix = |f: &str| {
            Path::new(f)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        };
        // Files still to import in each prefix: a prefix is complete at zero.
        let mut remaining: HashMap<PathBuf, usize> = HashMap::new();
        for f in &files {
            let left = remaining.entry(prefix(&f.name)).or_default();
            if !import.done.contains(&f.name) {
                *left += 1;
            }
        }
        import.stats.prefixes_found = remaining.len() as i64;
        import.stats.prefixes_completed = remaining.values().filter(|n| **n == 0).count() as i64;
        if !self
            .save_progress(account, id, import, Some("IN_PROGRESS"))
            .await?
        {
            return Ok(());
        }
        let range = (import.start_event_time, import.end_event_time);
        let todo: Vec<&LogFile> = files
            .iter()
            .filter(|f| !import.done.contains(&f.name))
            .collect();
        let mut saved = std::time::Instant::now();
        let mut unavailable = 0;
        for f in todo {
            // A StopImport is noticed before every file.
            if stop.load(Ordering::Acquire) {
                self.save_progress(account, id, import, None).await?;
                return Ok(());
            }
            let file = &f.name;
            let read = match source.read(f, MAX_FILE_BYTES).await {
                Ok(raw) => {
                    tokio::task::spawn_blocking(move || decode_log_file(&raw, MAX_JSON_BYTES))
                        .await
                        .map_err(|e| crate::internal(format!("reading a log file failed: {e}")))?
                }
                Err(failure) => Err(failure),
            };
            match &read {
                Err((kind, message)) if kind == SOURCE_UNAVAILABLE => {
                    unavailable += 1;
                    if unavailable >= UNAVAILABLE_IN_A_ROW {
                        return Err(err(ErrorCode::InvalidImportSource, format!("{message} ({unavailable} reads in a row); the import stopped. Retry it by ImportId once the source answers.")));
                    }
                }
                _ => unavailable = 0,
            }
            let now = epoch(self.now());
            match read {
                Err((error_type, error_message)) => {
                    import.failures.push(Failure {
                        location: format!("{}/{file}", uri.trim_end_matches('/')),
                        status: "FAILED".into(),
                        error_type,
                        error_message,
                        time: now,
                    });
                    import.stats.failed_entries += 1;
                }
                Ok(records) => {
                    let mut lines = Vec::with_capacity(records.len());
                    let mut timeless = 0;
                    for record in records {
                        let Some(t) = record_time(&record) else {
                            timeless += 1;
                            continue;
                        };
                        if range.0.is_some_and(|s| t < s) || range.1.is_some_and(|e| t > e) {
                            continue;
                        }
                        let line = serde_json::to_vec(&LoggedEvent {
                            eds: vec![import.eds_id.clone()],
                            record,
                        })
                        .map_err(|e| crate::internal(format!("could not encode an event: {e}")))?;
                        lines.push(line);
                    }
                    if !lines.is_empty() {
                        self.disk.admit().map_err(|full| {
                            err(ErrorCode::InternalFailure, format!("The disk is (nearly) full ({full}); the import stopped. Free space and retry it by ImportId."))
                        })?;
                    }
                    for chunk in lines.chunks(APPEND_RECORDS) {
                        self.log.append(chunk).await.map_err(|e| {
                            err(ErrorCode::InternalFailure, format!("The events of {file} could not be stored ({e}); retry the import by ImportId."))
                        })?;
                    }
                    // One failure entry per file, so that FailedEntries
                    // counts what ListImportFailures lists.
                    if timeless > 0 {
                        import.failures.push(Failure {
                            location: format!("{}/{file}", uri.trim_end_matches('/')),
                            status: "FAILED".into(),
                            error_type: "InvalidRecord".into(),
                            error_message: format!("{timeless} record(s) have no valid eventTime and were skipped; the file's other records were imported."),
                            time: now,
                        });
                        import.stats.failed_entries += 1;
                    }
                    import.stats.events_completed += lines.len() as i64;
                    import.stats.files_completed += 1;
                    import.done.insert(file.clone());
                    if let Some(left) = remaining.get_mut(&prefix(file)) {
                        *left = left.saturating_sub(1);
                        if *left == 0 {
                            import.stats.prefixes_completed += 1;
                        }
                    }
                }
            }
            import.updated = now;
            // Progress is saved (and a StopImport noticed) twice a second,
            // not per file: the record grows with the files done.
            if saved.elapsed() >= SAVE_EVERY {
                saved = std::time::Instant::now();
                if !self.save_progress(account, id, import, None).await? {
                    return Ok(());
                }
            }
        }
        // Files that failed leave the import FAILED (as AWS reports an
        // import that completed with failures); a retry tries them again.
        let end = if import.failures.is_empty() {
            "COMPLETED"
        } else {
            "FAILED"
        };
        import.updated = epoch(self.now());
        self.save_progress(account, id, import, Some(end))
            .await
            .map(|_| ())
    }

    /// Saves `import`'s progress, with `status` if given, unless a
    /// StopImport came first: then the stop stands (with the progress so
    /// far) and the answer is false.
    async fn save_progress(
        &self,
        account: &str,
        id: &str,
        import: &mut Import,
        status: Option<&str>,
    ) -> Result<bool, ApiError> {
        let _guard = self.control.lock().await;
        let current = self.load_import(account, id)?.status;
        let stopped = current == "STOPPED";
        import.status = match status {
            Some(s) if !stopped => s.to_string(),
            _ => current,
        };
        self.save_import(import, false)?;
        Ok(!stopped)
    }

    /// GetImport.
    pub async fn get_import(
        &self,
        caller: &Caller,
        input: GetImportRequest,
    ) -> Result<GetImportResponse, ApiError> {
        self.allow(caller, "cloudtrail:GetImport", "*", Default::default())?;
        let i = self.load_import(
            &caller.account_id,
            input.import_id.as_deref().unwrap_or_default(),
        )?;
        Ok(GetImportResponse {
            import_id: Some(i.id.clone()),
            destinations: Some(vec![i.destination.clone()]),
            import_source: Some(ImportSource {
                s3: Some(i.source.clone()),
            }),
            start_event_time: i.start_event_time,
            end_event_time: i.end_event_time,
            import_status: Some(i.status.clone()),
            created_timestamp: Some(i.created),
            updated_timestamp: Some(i.updated),
            import_statistics: Some(i.statistics()),
        })
    }

    /// StopImport: an ongoing import stops after the file it is on.
    pub async fn stop_import(
        &self,
        caller: &Caller,
        input: StopImportRequest,
    ) -> Result<StopImportResponse, ApiError> {
        self.allow(caller, "cloudtrail:StopImport", "*", Default::default())?;
        let _guard = self.control.lock().await;
        let mut i = self.load_import(
            &caller.account_id,
            input.import_id.as_deref().unwrap_or_default(),
        )?;
        if i.is_ongoing() {
            i.status = "STOPPED".into();
            i.updated = epoch(self.now());
            self.save_import(&i, false)?;
            if let Some(stop) = self.import_runs()?.get(&i.id) {
                stop.store(true, Ordering::Release);
            }
        }
        Ok(StopImportResponse {
            import_id: Some(i.id.clone()),
            import_source: Some(ImportSource {
                s3: Some(i.source.clone()),
            }),
            destinations: Some(vec![i.destination.clone()]),
            import_status: Some(i.status.clone()),
            created_timestamp: Some(i.created),
            updated_timestamp: Some(i.updated),
            start_event_time: i.start_event_time,
            end_event_time: i.end_event_time,
            import_statistics: Some(i.statistics()),
        })
    }

    /// ListImports, newest first.
    pub async fn list_imports(
        &self,
        caller: &Caller,
        input: ListImportsRequest,
    ) -> Result<ListImportsResponse, ApiError> {
        self.allow(caller, "cloudtrail:ListImports", "*", Default::default())?;
        let size = paging::page_size(input.max_results, 1000, 1000)?;
        let start = paging::offset("imports", input.next_token.as_deref())?;
        if let Some(d) = &input.destination {
            if arn::named(d, "eventdatastore").is_none() {
                return Err(err(
                    ErrorCode::EventDataStoreArnInvalid,
                    format!("{d} is not an event data store ARN."),
                ));
            }
        }
        let mut all: Vec<Import> =
            self.imports(&caller.account_id)?
                .into_iter()
                .filter(|i| {
                    input.destination.as_ref().is_none_or(|d| {
                        *d == i.destination || d.ends_with(&format!("/{}", i.eds_id))
                    })
                })
                .filter(|i| input.import_status.as_ref().is_none_or(|s| *s == i.status))
                .collect();
        all.sort_by(|a, b| b.created.total_cmp(&a.created));
        let items: Vec<ImportsListItem> = all
            .into_iter()
            .map(|i| ImportsListItem {
                import_id: Some(i.id),
                import_status: Some(i.status),
                destinations: Some(vec![i.destination]),
                created_timestamp: Some(i.created),
                updated_timestamp: Some(i.updated),
            })
            .collect();
        let (page, next) = paging::page("imports", &items, start, size);
        Ok(ListImportsResponse {
            imports: Some(page),
            next_token: next,
        })
    }

    /// ListImportFailures: one entry per file that could not be imported.
    pub async fn list_import_failures(
        &self,
        caller: &Caller,
        input: ListImportFailuresRequest,
    ) -> Result<ListImportFailuresResponse, ApiError> {
        self.allow(
            caller,
            "cloudtrail:ListImportFailures",
            "*",
            Default::default(),
        )?;
        let i = self.load_import(
            &caller.account_id,
            input.import_id.as_deref().unwrap_or_default(),
        )?;
        let size = paging::page_size(input.max_results, 1000, 1000)?;
        let start = paging::offset("failures", input.next_token.as_deref())?;
        let items: Vec<ImportFailureListItem> = i
            .failures
            .into_iter()
            .map(|f| ImportFailureListItem {
                location: Some(f.location),
                status: Some(f.status),
                error_type: Some(f.error_type),
                error_message: Some(f.error_message),
                last_updated_time: Some(f.time),
            })
            .collect();
        let (page, next) = paging::page("failures", &items, start, size);
        Ok(ListImportFailuresResponse {
            failures: Some(page),
            next_token: next,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        std::fs::write(path, e.finish().unwrap()).unwrap();
    }

    fn start(eds: &str, dir: &Path) -> StartImportRequest {
        serde_json::from_value(serde_json::json!({
            "Destinations": [eds],
            "ImportSource": {"S3": {"S3LocationUri": format!("file://{}", dir.display()),
                "S3BucketRegion": "us-east-1", "S3BucketAccessRoleArn": "arn:aws:iam::111122223333:role/r"}},
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn an_account_runs_one_import_at_a_time_and_a_stop_is_kept() {
        let d = tempfile::tempdir().unwrap();
        let imports = d.path().join("imports");
        let source = imports.join("111122223333");
        let theirs_source = imports.join("444455556666");
        std::fs::create_dir_all(&source).unwrap();
        std::fs::create_dir_all(&theirs_source).unwrap();
        let lake = Arc::new(crate::test_lake(d.path()).with_import_dir(Some(imports)));
        let owner = Caller::root("111122223333");
        let eds = lake
            .create_event_data_store(
                &owner,
                serde_json::from_value(serde_json::json!({"Name": "trail"})).unwrap(),
            )
            .await
            .unwrap()
            .event_data_store_arn
            .unwrap();
        // Once its task is done, make the import look as if it were still running.
        let first = lake
            .start_import(&owner, start(&eds, &source))
            .await
            .unwrap();
        let id = first.import_id.unwrap();
        while lake.load_import("111122223333", &id).unwrap().status != "COMPLETED" {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let mut ongoing = lake.load_import("111122223333", &id).unwrap();
        ongoing.status = "IN_PROGRESS".into();
        lake.save_import(&ongoing, false).unwrap();
        let e = lake
            .start_import(&owner, start(&eds, &source))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::AccountHasOngoingImport);
        assert!(e.message.contains(&id));
        // Another account is not held up.
        let other = Caller::root("444455556666");
        let theirs = lake
            .create_event_data_store(
                &other,
                serde_json::from_value(serde_json::json!({"Name": "t"})).unwrap(),
            )
            .await
            .unwrap()
            .event_data_store_arn
            .unwrap();
        // It reads its own directory only.
        let e = lake
            .start_import(&other, start(&theirs, &source))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidImportSource);
        lake.start_import(&other, start(&theirs, &theirs_source))
            .await
            .unwrap();
        // A stop is what the import ends as, even if its files run out.
        let stopped = lake
            .stop_import(
                &owner,
                StopImportRequest {
                    import_id: Some(id.clone()),
                },
            )
            .await
            .unwrap();
        assert_eq!(stopped.import_status.as_deref(), Some("STOPPED"));
        lake.run_import("111122223333", &id, &AtomicBool::new(false))
            .await
            .unwrap();
        assert_eq!(
            lake.load_import("111122223333", &id).unwrap().status,
            "STOPPED"
        );
    }

    #[test]
    fn log_files_must_be_gzipped_cloudtrail_records() {
        let d = tempfile::tempdir().unwrap();
        let good = d.path().join("good.json.gz");
        gz(
            &good,
            r#"{"Records":[{"eventTime":"2024-01-02T03:04:05Z"}]}"#,
        );
        assert_eq!(
            decode_log_file(&std::fs::read(&good).unwrap(), MAX_JSON_BYTES)
                .unwrap()
                .len(),
            1
        );
        let plain = d.path().join("plain.json");
        std::fs::write(&plain, r#"{"Records":[]}"#).unwrap();
        assert_eq!(
            decode_log_file(&std::fs::read(&plain).unwrap(), MAX_JSON_BYTES)
                .unwrap_err()
                .0,
            "InvalidFileFormat"
        );
        let other = d.path().join("other.json.gz");
        gz(&other, r#"{"configurationItems":[]}"#);
        assert!(
            decode_log_file(&std::fs::read(&other).unwrap(), MAX_JSON_BYTES)
                .unwrap_err()
                .1
                .contains("Records")
        );
        let broken = d.path().join("broken.json.gz");
        gz(&broken, "{\"Records\":[");
        assert_eq!(
            decode_log_file(&std::fs::read(&broken).unwrap(), MAX_JSON_BYTES)
                .unwrap_err()
                .0,
            "InvalidFileFormat"
        );
        // A gzip bomb is cut off at the limit, not decompressed whole.
        let bomb = d.path().join("bomb.json.gz");
        gz(&bomb, &" ".repeat(1 << 20));
        assert_eq!(
            decode_log_file(&std::fs::read(&bomb).unwrap(), 1 << 16)
                .unwrap_err()
                .0,
            "FileTooLarge"
        );
        assert_eq!(
            decode_log_file(&std::fs::read(&good).unwrap(), 1 << 16)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            record_time(&serde_json::json!({"eventTime": "2024-01-02T03:04:05Z"})),
            Some(1_704_164_645.0)
        );
        assert_eq!(record_time(&serde_json::json!({})), None);
    }
}
