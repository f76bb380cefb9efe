//! `cairn serve`: one HTTP listener for every protocol.
//!
//! Request path: read the body → pick the protocol from the request's shape
//! → verify SigV4 → decode → run the operation → encode the response or the
//! error in that protocol's shape.

use anyhow::Context;
use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, Request, Response, StatusCode};
use lake::{ApiError, Caller, ErrorCode, Lake, Quotas};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wire::{Protocol, WireResponse};

use crate::query_result;

/// Arguments of `cairn serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Where Cairn keeps its metadata, events and query results.
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./cairn-data")]
    data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = "CAIRN_LISTEN", default_value = "127.0.0.1:7821")]
    listen: SocketAddr,
    /// The AWS region this instance serves (ARNs, SigV4 credential scope).
    #[arg(long, env = "CAIRN_REGION", default_value = "us-east-1")]
    region: String,
    /// How far a request's signing time may be from the server's clock, in
    /// seconds (AWS: 300).
    #[arg(long, env = "CAIRN_MAX_CLOCK_SKEW", default_value_t = 300)]
    max_clock_skew: u64,
    /// Event data stores per account (AWS quota: 10).
    #[arg(long, env = "CAIRN_MAX_EVENT_DATA_STORES", default_value_t = 10)]
    max_event_data_stores: usize,
    /// Channels per account (AWS quota: 25).
    #[arg(long, env = "CAIRN_MAX_CHANNELS", default_value_t = 25)]
    max_channels: usize,
    /// Queued plus running queries per account (AWS quota: 10).
    #[arg(long, env = "CAIRN_MAX_CONCURRENT_QUERIES", default_value_t = 10)]
    max_concurrent_queries: usize,
    /// Seconds after which a running query is stopped as TIMED_OUT (AWS: 3600).
    #[arg(long, env = "CAIRN_QUERY_TIMEOUT", default_value_t = 3600)]
    query_timeout: u64,
    /// Queries that run at once (server-wide); the others wait QUEUED.
    #[arg(long, env = "CAIRN_QUERY_WORKERS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    query_workers: u64,
    /// Milliseconds between flushes of the ingest log into the event tables
    /// (queries see unflushed events too; this bounds the log's size).
    #[arg(long, env = "CAIRN_FLUSH_INTERVAL_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(10..))]
    flush_interval_ms: u64,
    /// Seconds between retention passes (dropping days past each event data
    /// store's RetentionPeriod, purging stores deleted more than 7 days ago).
    #[arg(long, env = "CAIRN_RETENTION_INTERVAL", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    retention_interval: u64,
    /// Disk space, in MiB, kept free for reads, queries and flushes: new
    /// events are refused below it (default: 5% of the file system, at most 64).
    #[arg(long, env = "CAIRN_RESERVED_SPACE_MB")]
    reserved_space_mb: Option<u64>,
    /// The directory StartImport may read `file:///…` sources from (only
    /// directories under it); without it, local imports are refused.
    #[arg(long, env = "CAIRN_IMPORT_DIR")]
    import_dir: Option<PathBuf>,
    /// The S3-compatible service (URL) StartImport reads `s3://bucket/prefix`
    /// sources from, with the S3 credentials of this process's environment
    /// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, …), as far as each
    /// import's role allows; without it, S3 imports are refused.
    #[arg(long, env = "CAIRN_IMPORT_S3_ENDPOINT")]
    import_s3_endpoint: Option<String>,
    /// Runs Cairn's clock this many seconds ahead (or behind): for testing
    /// time-dependent behaviour such as session expiry.
    #[arg(
        long,
        env = "CAIRN_CLOCK_OFFSET",
        default_value_t = 0,
        allow_hyphen_values = true,
        hide = true
    )]
    clock_offset: i64,
}

/// PutAuditEvents accepts "up to 100 events (or up to 1 MB)" per request.
const MAX_PUT_BODY: usize = 1024 * 1024;
/// Nothing Cairn accepts is larger; bigger bodies are refused unread.
const MAX_BODY: usize = 8 * 1024 * 1024;

struct App {
    lake: Arc<Lake>,
    audit: lake::AuditTrail,
    iam: Arc<iam::Iam>,
    max_skew: Duration,
    clock: iam::Clock,
}

pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

fn write_root_credentials(dir: &Path, account: &iam::NewAccount) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("root-credentials");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    write!(
        f,
        "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_account_id = {}\n",
        account.access_key_id, account.secret_access_key, account.account_id
    )?;
    f.sync_all()?;
    Ok(path)
}

/// Holds `DIR/lock` for the life of the process: two servers appending to
/// one ingest log would corrupt it.
fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another `cairn serve` is using {}: stop it first, or give this one its own --data-dir",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Every secret access key and every event lives in the data directory:
    // created, or restricted, so that only this user can enter it.
    match crate::datadir::make_private(&args.data_dir)? {
        crate::datadir::Outcome::Restricted { from } => tracing::warn!(
            data_dir = %args.data_dir.display(),
            "the data directory had mode {from:04o}; set it to {:04o} so that only this user can enter it (it holds every secret access key)",
            crate::datadir::MODE
        ),
        crate::datadir::Outcome::Created => tracing::info!(
            data_dir = %args.data_dir.display(),
            "created the data directory (mode {:04o})",
            crate::datadir::MODE
        ),
        crate::datadir::Outcome::AlreadyPrivate => {}
    }
    let _lock = lock_data_dir(&args.data_dir)?;
    let meta: Arc<dyn store::Metadata> = Arc::new(
        store::SqliteMetadata::open(&args.data_dir.join("metadata.db"))
            .context("opening the metadata database")?,
    );
    let offset = time::Duration::seconds(args.clock_offset);
    let clock: iam::Clock = Arc::new(move || time::OffsetDateTime::now_utc() + offset);
    let iam = Arc::new(iam::Iam::new(
        meta.clone(),
        &args.region,
        Some(clock.clone()),
    ));
    let (log, stats) =
        store::IngestLog::open(&args.data_dir.join("events")).context("opening the ingest log")?;
    tracing::info!(
        records = stats.records,
        segments = stats.segments,
        truncated_bytes = stats.truncated_bytes,
        "ingest log opened"
    );
    let quotas = Quotas {
        event_data_stores: args.max_event_data_stores,
        channels: args.max_channels,
        concurrent_queries: args.max_concurrent_queries,
        query_timeout: Duration::from_secs(args.query_timeout),
        query_workers: args.query_workers as usize,
    };
    let tables = Arc::new(
        tables::Tables::open_local(&args.data_dir.join("tables"), log.clone())
            .context("opening the event tables")?,
    );
    let disk = Arc::new(store::DiskGuard::new(
        &args.data_dir,
        args.reserved_space_mb.map(|mb| mb.saturating_mul(1 << 20)),
    ));
    let lake = Lake::new(
        meta,
        iam.clone(),
        log,
        tables,
        disk,
        &args.region,
        quotas,
        args.data_dir.join("query-results"),
        Some(clock.clone()),
    )
    .map_err(|e| anyhow::anyhow!(e.message))?
    .with_import_dir(args.import_dir.clone())
    .with_import_s3_endpoint(args.import_s3_endpoint.clone());
    if args.import_s3_endpoint.is_some() && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        tracing::warn!("--import-s3-endpoint is set but AWS_ACCESS_KEY_ID is not: S3 imports will look for credentials elsewhere (web identity, container or instance metadata) and fail if there are none");
    }
    let lake = Arc::new(lake);
    let (stop_upkeep, upkeep_stopped) = tokio::sync::watch::channel(false);
    let upkeep = lake.spawn_maintenance(
        lake::Maintenance {
            flush_every: Duration::from_millis(args.flush_interval_ms),
            retention_every: Duration::from_secs(args.retention_interval),
            ..lake::Maintenance::default()
        },
        upkeep_stopped.clone(),
    );
    if let Some(account) = iam
        .ensure_default_account()
        .map_err(|e| anyhow::anyhow!(e.message))?
    {
        let path = write_root_credentials(&args.data_dir, &account)?;
        println!(
            "Created the default account {} with its root access key (shown once; also in {}):",
            account.account_id,
            path.display()
        );
        println!("  AccessKeyId:     {}", account.access_key_id);
        println!("  SecretAccessKey: {}", account.secret_access_key);
    }
    let (audit, audit_task) = lake.spawn_audit(upkeep_stopped.clone());
    let app = Arc::new(App {
        lake: lake.clone(),
        audit,
        iam,
        clock,
        max_skew: Duration::from_secs(args.max_clock_skew),
    });
    let router = axum::Router::new().fallback(handle).with_state(app);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!(
        "Cairn {} listening on http://{addr} (region {}, data in {})",
        env!("CARGO_PKG_VERSION"),
        args.region,
        args.data_dir.display()
    );
    use std::io::Write;
    std::io::stdout().flush()?;
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await?;
    // Running imports save their progress before the next file.
    if !lake.wind_down_imports(Duration::from_secs(10)).await {
        tracing::warn!(
            "an import did not stop within 10 s; a retry may import its last files again"
        );
    }
    // Let a flush or compaction under way finish (everything is in the
    // ingest log anyway; this only spares the next start some work).
    let _ = stop_upkeep.send(true);
    // The audit writer appends what is still queued, then ends.
    let _ = tokio::time::timeout(Duration::from_secs(10), audit_task).await;
    if tokio::time::timeout(Duration::from_secs(30), upkeep)
        .await
        .is_err()
    {
        tracing::warn!("table upkeep did not finish within 30 s; the next start resumes it");
    }
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// Which API a request is for, decided from its shape.
enum Route {
    PutAuditEvents,
    CloudTrail(String),
    Query,
    Unknown,
}

fn route(method: &str, path: &str, headers: &axum::http::HeaderMap) -> Route {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return match wire::cloudtrail_operation(target) {
            Some(op) => Route::CloudTrail(op.to_string()),
            None => Route::Unknown,
        };
    }
    if method == "POST" && path == "/PutAuditEvents" {
        return Route::PutAuditEvents;
    }
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if method == "POST" && path == "/" && form {
        return Route::Query;
    }
    Route::Unknown
}

async fn handle(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response<Body> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let route = route(&method, &path, &parts.headers);
    let protocol = match route {
        Route::PutAuditEvents => Protocol::RestJson1,
        Route::Query => Protocol::AwsQuery,
        _ => Protocol::AwsJson11,
    };
    let started = std::time::Instant::now();
    // awsQuery: which service (IAM or STS) shapes the error document, and
    // which action is logged.
    let mut query_service = wire::QueryService::Iam;
    let mut operation = operation_name(&route);
    let result = match to_bytes(body, MAX_BODY).await {
        Err(_) => Err(ApiError::new(
            ErrorCode::Validation,
            format!("The request body is larger than {MAX_BODY} bytes; Cairn refuses it unread."),
        )),
        Ok(bytes) => {
            let headers: Vec<(&str, &str)> = parts
                .headers
                .iter()
                .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
                .collect();
            let signed = sigv4::Request {
                method: &method,
                path: &path,
                query: &query,
                headers: &headers,
                body: &bytes,
            };
            if matches!(route, Route::Query) {
                if let Ok(form) = wire::QueryForm::parse(&bytes) {
                    if let Ok(service) = wire::QueryService::for_form(&form, None) {
                        query_service = service;
                    }
                    if let Ok(action) = form.action() {
                        operation = format!("{}:{action}", query_service.signing_name());
                    }
                }
            }
            match authenticate(&app, &signed, &route, peer, &request_id) {
                Err(e) => Err(e),
                Ok(caller) => {
                    let result = dispatch(&app, &caller, &route, &query, &bytes).await;
                    let call = api_call(
                        &app,
                        &caller,
                        &route,
                        query_service,
                        &query,
                        &bytes,
                        &result,
                    );
                    if let Some(mut call) = call {
                        call.user_agent = parts
                            .headers
                            .get("user-agent")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        app.audit.record(&caller, &call, (app.clock)());
                    }
                    result
                }
            }
        }
    };
    let (response, code) = match result {
        Ok(r) => (r, None),
        Err(e) => {
            if e.code.status() >= 500 {
                tracing::error!(request_id, error = %e.message, "request failed");
            }
            let response = match protocol {
                Protocol::AwsQuery => wire::query_error_response(query_service, &e, &request_id),
                other => wire::error_response(other, &e, &request_id),
            };
            (response, Some(e.code.as_str()))
        }
    };
    tracing::info!(
        request_id,
        %peer,
        operation = %operation,
        status = response.status,
        error = code.unwrap_or(""),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    into_http(response, &request_id)
}

/// What the audit trail records of an authenticated call (nothing for a
/// request Cairn could not route).
fn api_call(
    app: &App,
    caller: &Caller,
    route: &Route,
    query_service: wire::QueryService,
    query: &str,
    body: &[u8],
    result: &Result<WireResponse, ApiError>,
) -> Option<lake::ApiCall> {
    let region = app.lake.region().to_string();
    let json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).ok();
    let mut call = match route {
        Route::Unknown => return None,
        Route::CloudTrail(op) => lake::ApiCall {
            event_source: "cloudtrail.amazonaws.com".into(),
            event_name: op.clone(),
            region,
            request_parameters: json(body),
            ..Default::default()
        },
        Route::PutAuditEvents => {
            let params = query_params(query);
            let channel = params
                .iter()
                .find(|(k, _)| k == "channelArn")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            // A bare channel id names a channel of the caller's account.
            let arn = if channel.starts_with("arn:") {
                channel
            } else {
                format!(
                    "arn:aws:cloudtrail:{region}:{}:channel/{channel}",
                    caller.account_id
                )
            };
            // The owner gets the record only of calls on a channel that
            // exists there: anyone could name any account in an ARN.
            let no_channel = matches!(
                result,
                Err(e) if matches!(e.code, ErrorCode::ChannelNotFound | ErrorCode::InvalidChannelArn)
            );
            let owner = (!no_channel)
                .then(|| arn.split(':').nth(4).map(str::to_string))
                .flatten();
            lake::ApiCall {
                event_source: "cloudtrail-data.amazonaws.com".into(),
                event_name: "PutAuditEvents".into(),
                region,
                request_parameters: Some(
                    params
                        .into_iter()
                        .map(|(k, v)| (k, serde_json::Value::String(v)))
                        .collect(),
                ),
                resources: vec![("AWS::CloudTrail::Channel".into(), arn)],
                data_event: true,
                resource_owner: owner,
                ..Default::default()
            }
        }
        Route::Query => {
            let form = wire::QueryForm::parse(body).ok()?;
            let action = form.action().ok()?.to_string();
            let params: serde_json::Map<String, serde_json::Value> = form
                .iter()
                .filter(|(k, _)| *k != "Action" && *k != "Version")
                .map(|(k, v)| (k.to_string(), v.into()))
                .collect();
            let iam = query_service == wire::QueryService::Iam;
            lake::ApiCall {
                event_source: format!("{}.amazonaws.com", query_service.signing_name()),
                event_name: action,
                // IAM is global and recorded in us-east-1, as on AWS.
                region: if iam { "us-east-1".into() } else { region },
                request_parameters: Some(params.into()),
                ..Default::default()
            }
        }
    };
    match result {
        // Only calls that change something record their response (reads
        // such as GetQueryResults would copy whole result pages).
        Ok(r) if !call.read_only() => match route {
            Route::CloudTrail(_) => call.response_elements = json(&r.body),
            Route::Query => call.response_elements = query_result::result_elements(&r.body),
            Route::PutAuditEvents | Route::Unknown => {}
        },
        Ok(_) => {}
        Err(e) => call.error = Some((e.code.as_str().to_string(), e.message.clone())),
    }
    if call.resources.is_empty() {
        call.resources = named_resources(&call, &caller.account_id);
    }
    Some(call)
}

/// The resources a call names in its request or (for a create) its
/// response, as CloudTrail lists them: (type, ARN).
fn named_resources(call: &lake::ApiCall, account: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let members = [&call.request_parameters, &call.response_elements];
    let text = |key: &str| {
        members
            .iter()
            .filter_map(|m| m.as_ref()?.get(key)?.as_str())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let region = &call.region;
    for (key, kind, kind_type) in [
        (
            "EventDataStore",
            "eventdatastore",
            "AWS::CloudTrail::EventDataStore",
        ),
        (
            "EventDataStoreArn",
            "eventdatastore",
            "AWS::CloudTrail::EventDataStore",
        ),
        ("Channel", "channel", "AWS::CloudTrail::Channel"),
        ("ChannelArn", "channel", "AWS::CloudTrail::Channel"),
        ("ResourceArn", "channel", "AWS::CloudTrail::Channel"),
    ] {
        for v in text(key) {
            let arn = if v.starts_with("arn:") {
                v
            } else {
                format!("arn:aws:cloudtrail:{region}:{account}:{kind}/{v}")
            };
            out.push((kind_type.to_string(), arn));
        }
    }
    for (key, kind, kind_type) in [
        ("UserName", "user", "AWS::IAM::User"),
        ("RoleName", "role", "AWS::IAM::Role"),
        ("GroupName", "group", "AWS::IAM::Group"),
    ] {
        for v in text(key) {
            out.push((
                kind_type.to_string(),
                format!("arn:aws:iam::{account}:{kind}/{v}"),
            ));
        }
    }
    for v in text("PolicyArn") {
        out.push(("AWS::IAM::Policy".into(), v));
    }
    out.sort();
    out.dedup();
    out
}

fn operation_name(route: &Route) -> String {
    match route {
        Route::PutAuditEvents => "PutAuditEvents".into(),
        Route::CloudTrail(op) => op.clone(),
        Route::Query => "awsQuery".into(),
        Route::Unknown => "unknown".into(),
    }
}

fn into_http(r: WireResponse, request_id: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(r.body));
    *response.status_mut() =
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (k, v) in r.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

fn auth_error(route: &Route, e: &sigv4::Error) -> ApiError {
    use sigv4::Error as E;
    let query = matches!(route, Route::Query);
    let code = match e {
        E::MissingAuthentication if query => ErrorCode::QueryMissingAuthenticationToken,
        E::MissingAuthentication => ErrorCode::MissingAuthenticationToken,
        E::Incomplete(_) if query => ErrorCode::QueryIncompleteSignature,
        E::Incomplete(_) => ErrorCode::IncompleteSignature,
        _ if query => ErrorCode::QuerySignatureDoesNotMatch,
        _ => ErrorCode::InvalidSignature,
    };
    ApiError::new(code, e.to_string())
}

fn authenticate(
    app: &App,
    req: &sigv4::Request<'_>,
    route: &Route,
    peer: SocketAddr,
    request_id: &str,
) -> Result<Caller, ApiError> {
    let presented = sigv4::parse(req).map_err(|e| auth_error(route, &e))?;
    let query = matches!(route, Route::Query);
    let invalid_token = || {
        let code = if query {
            ErrorCode::QueryInvalidClientTokenId
        } else {
            ErrorCode::UnrecognizedClient
        };
        ApiError::new(
            code,
            "The security token included in the request is invalid.",
        )
    };
    let Some(key) = app.iam.lookup_key(&presented.access_key_id)? else {
        return Err(invalid_token());
    };
    match route {
        Route::PutAuditEvents => presented.check_scope(app.lake.region(), "cloudtrail-data"),
        Route::CloudTrail(_) | Route::Unknown => {
            presented.check_scope(app.lake.region(), "cloudtrail")
        }
        // IAM is global: AWS signs it for us-east-1 whatever region the
        // client uses; STS is regional.
        Route::Query if presented.service == "iam" => presented
            .check_scope(app.lake.region(), "iam")
            .or_else(|_| presented.check_scope("us-east-1", "iam")),
        Route::Query => presented.check_scope(app.lake.region(), "sts"),
    }
    .map_err(|e| auth_error(route, &e))?;
    let now = (app.clock)();
    sigv4::verify(req, &presented, &key.secret, now, app.max_skew).map_err(|e| {
        if let sigv4::Error::Mismatch {
            canonical_request, ..
        } = &e
        {
            tracing::debug!(%canonical_request, "signature mismatch");
        }
        auth_error(route, &e)
    })?;
    if let Some(session) = &key.session {
        match session.check(presented.security_token.as_deref(), now.unix_timestamp()) {
            Ok(()) => {}
            Err(iam::TokenProblem::Invalid) => return Err(invalid_token()),
            Err(iam::TokenProblem::Expired) => {
                let code = if query {
                    ErrorCode::QueryExpiredToken
                } else {
                    ErrorCode::ExpiredTokenException
                };
                return Err(ApiError::new(
                    code,
                    "The security token included in the request is expired",
                ));
            }
        }
    }
    let mut caller = key.caller;
    caller.source_ip = Some(peer.ip().to_string());
    caller.request_id = request_id.to_string();
    Ok(caller)
}

/// The query-string parameters of PutAuditEvents. `+` is a literal plus:
/// SigV4 clients encode spaces as %20.
fn query_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .to_string()
            };
            (decode(k), decode(v))
        })
        .collect()
}

async fn dispatch(
    app: &App,
    caller: &Caller,
    route: &Route,
    query: &str,
    body: &[u8],
) -> Result<WireResponse, ApiError> {
    match route {
        Route::PutAuditEvents => put_audit_events(app, caller, query, body).await,
        Route::CloudTrail(op) => cloudtrail(app, caller, op, body).await,
        Route::Query => query_api(app, caller, body),
        Route::Unknown => Err(ApiError::new(
            ErrorCode::UnknownOperation,
            "Cairn did not recognise this request: CloudTrail calls are POST / with X-Amz-Target CloudTrail_20131101.<Operation>, CloudTrail Data calls are POST /PutAuditEvents?channelArn=….",
        )),
    }
}

async fn put_audit_events(
    app: &App,
    caller: &Caller,
    query: &str,
    body: &[u8],
) -> Result<WireResponse, ApiError> {
    if body.len() > MAX_PUT_BODY {
        return Err(ApiError::new(
            ErrorCode::Validation,
            format!("The request body is {} bytes; PutAuditEvents takes up to 1 MB ({MAX_PUT_BODY} bytes). Send fewer or smaller events per request.", body.len()),
        ));
    }
    let params = query_params(query);
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut input = wire::decode_json::<wire::cloudtrail_data::PutAuditEventsRequest, _>(
        body,
        ErrorCode::Validation,
        |_, _| {},
    )?;
    // The model's channelArn pattern (^arn:.*$) would refuse the bare channel
    // id that the API reference allows ("the ARN or ID (the ARN suffix)"):
    // validation only sees whether it is present, and the operation checks
    // its form, answering InvalidChannelARN.
    input.channel_arn = param("channelArn").map(|_| "arn:".to_string());
    input.external_id = param("externalId");
    let mut v = wire::Validator::new();
    input.validate_into(&mut v, "");
    if let Some(message) = v.message() {
        return Err(ApiError::new(ErrorCode::Validation, message));
    }
    let channel_arn = param("channelArn").unwrap_or_default();
    let external_id = param("externalId");
    let outcome = app
        .lake
        .put_audit_events(
            caller,
            &channel_arn,
            external_id.as_deref(),
            input.audit_events.unwrap_or_default(),
        )
        .await?;
    Ok(wire::json_response(Protocol::RestJson1, &outcome.response))
}

/// IAM and STS: decode by `Version` and `Action`, run, encode as XML.
fn query_api(app: &App, caller: &Caller, body: &[u8]) -> Result<WireResponse, ApiError> {
    let form = wire::QueryForm::parse(body)?;
    let service = wire::QueryService::for_form(&form, None)?;
    let (response, warnings) = match service.decode(&form)? {
        wire::QueryRequest::Iam(req) => {
            let (r, warnings) = iam_call(&app.iam, caller, req)?;
            (wire::QueryResponse::Iam(r), warnings)
        }
        wire::QueryRequest::Sts(req) => (
            wire::QueryResponse::Sts(sts_call(&app.iam, caller, req)?),
            Vec::new(),
        ),
    };
    let wrapper = match &response {
        wire::QueryResponse::Iam(r) => r.operation().result_wrapper(),
        wire::QueryResponse::Sts(r) => r.operation().result_wrapper(),
    };
    let wire = response.to_wire(&caller.request_id);
    Ok(match wrapper {
        Some(w) => with_warnings(wire, w, &warnings),
        None => wire,
    })
}

/// Adds `<CairnWarnings><member>…</member></CairnWarnings>` to a simulation's
/// result: actions the simulated policies name that do not exist. The model
/// has no member for them, so SDKs ignore the element; it is there for raw
/// clients and `--debug` (the same warnings are in `cairn explain`).
fn with_warnings(mut response: WireResponse, result: &str, warnings: &[String]) -> WireResponse {
    if warnings.is_empty() {
        return response;
    }
    let mut extra = String::from("<CairnWarnings>");
    for w in warnings {
        extra.push_str("<member>");
        wire::query::xml_text(&mut extra, w);
        extra.push_str("</member>");
    }
    extra.push_str("</CairnWarnings>");
    let close = format!("</{result}>");
    if let Ok(body) = String::from_utf8(std::mem::take(&mut response.body)) {
        response.body = body
            .replacen(&close, &format!("{extra}{close}"), 1)
            .into_bytes();
    }
    response
}

/// One arm per served operation: `Op => method` for operations with output,
/// `Op => method;` in the second list for those without.
macro_rules! query_operations {
    ($svc:expr, $caller:expr, $req:expr, $module:ident,
     { $( $op:ident => $method:ident ),* $(,)? }
     { $( $uop:ident => $umethod:ident ),* $(,)? }) => {
        query_operations!($svc, $caller, $req, $module, { $( $op => $method ),* } { $( $uop => $umethod ),* } {})
            .map(|(r, _)| r)
    };
    ($svc:expr, $caller:expr, $req:expr, $module:ident,
     { $( $op:ident => $method:ident ),* $(,)? }
     { $( $uop:ident => $umethod:ident ),* $(,)? }
     { $( $sop:ident => $smethod:ident ),* $(,)? }) => {{
        use wire::$module::{Request as Q, Response as R};
        Ok::<_, ApiError>(match $req {
            $( Q::$op(input) => (R::$op($svc.$method($caller, input)?), Vec::<String>::new()), )*
            $( Q::$uop(input) => { $svc.$umethod($caller, input)?; (R::$uop, Vec::<String>::new()) } )*
            $( Q::$sop(input) => {
                let sim = $svc.$smethod($caller, input)?;
                (R::$sop(sim.response), sim.warnings)
            } )*
        })
    }};
}

/// An IAM call, and the warnings to add to its result (simulations only).
fn iam_call(
    iam: &iam::Iam,
    caller: &Caller,
    req: wire::iam::Request,
) -> Result<(wire::iam::Response, Vec<String>), ApiError> {
    query_operations!(iam, caller, req, iam, {
        CreateAccessKey => create_access_key,
        CreateGroup => create_group,
        CreatePolicy => create_policy,
        CreatePolicyVersion => create_policy_version,
        CreateRole => create_role,
        CreateUser => create_user,
        GetGroup => get_group,
        GetGroupPolicy => get_group_policy,
        GetPolicy => get_policy,
        GetPolicyVersion => get_policy_version,
        GetRole => get_role,
        GetRolePolicy => get_role_policy,
        GetUser => get_user,
        GetUserPolicy => get_user_policy,
        ListAccessKeys => list_access_keys,
        ListAttachedGroupPolicies => list_attached_group_policies,
        ListAttachedRolePolicies => list_attached_role_policies,
        ListAttachedUserPolicies => list_attached_user_policies,
        ListGroupPolicies => list_group_policies,
        ListGroups => list_groups,
        ListGroupsForUser => list_groups_for_user,
        ListPolicies => list_policies,
        ListPolicyVersions => list_policy_versions,
        ListRolePolicies => list_role_policies,
        ListRoleTags => list_role_tags,
        ListRoles => list_roles,
        ListUserPolicies => list_user_policies,
        ListUserTags => list_user_tags,
        ListUsers => list_users,
    } {
        AddUserToGroup => add_user_to_group,
        AttachGroupPolicy => attach_group_policy,
        AttachRolePolicy => attach_role_policy,
        AttachUserPolicy => attach_user_policy,
        DeleteAccessKey => delete_access_key,
        DeleteGroup => delete_group,
        DeleteGroupPolicy => delete_group_policy,
        DeletePolicy => delete_policy,
        DeletePolicyVersion => delete_policy_version,
        DeleteRole => delete_role,
        DeleteRolePermissionsBoundary => delete_role_permissions_boundary,
        DeleteRolePolicy => delete_role_policy,
        DeleteUser => delete_user,
        DeleteUserPermissionsBoundary => delete_user_permissions_boundary,
        DeleteUserPolicy => delete_user_policy,
        DetachGroupPolicy => detach_group_policy,
        DetachRolePolicy => detach_role_policy,
        DetachUserPolicy => detach_user_policy,
        PutGroupPolicy => put_group_policy,
        PutRolePermissionsBoundary => put_role_permissions_boundary,
        PutRolePolicy => put_role_policy,
        PutUserPermissionsBoundary => put_user_permissions_boundary,
        PutUserPolicy => put_user_policy,
        RemoveUserFromGroup => remove_user_from_group,
        SetDefaultPolicyVersion => set_default_policy_version,
        TagRole => tag_role,
        TagUser => tag_user,
        UntagRole => untag_role,
        UntagUser => untag_user,
        UpdateAccessKey => update_access_key,
        UpdateAssumeRolePolicy => update_assume_role_policy,
    } {
        SimulateCustomPolicy => simulate_custom_policy,
        SimulatePrincipalPolicy => simulate_principal_policy,
    })
}

fn sts_call(
    iam: &iam::Iam,
    caller: &Caller,
    req: wire::sts::Request,
) -> Result<wire::sts::Response, ApiError> {
    query_operations!(iam, caller, req, sts, {
        AssumeRole => assume_role,
        GetCallerIdentity => get_caller_identity,
        GetSessionToken => get_session_token,
    } {})
}

macro_rules! operations {
    ($app:expr, $caller:expr, $op:expr, $body:expr, { $( $name:literal => $input:ident, $method:ident; )* }) => {
        match $op {
            $( $name => {
                let input = wire::decode_json::<wire::cloudtrail::$input, _>($body, ErrorCode::InvalidParameter, |r, v| r.validate_into(v, ""))?;
                let output = $app.lake.$method($caller, input).await?;
                Ok(wire::json_response(Protocol::AwsJson11, &output))
            } )*
            other => Err(ApiError::new(
                ErrorCode::UnknownOperation,
                format!("Cairn does not implement the CloudTrail operation {other}: it serves the CloudTrail Lake event data store, channel, resource policy and query operations."),
            )),
        }
    };
}

async fn cloudtrail(
    app: &App,
    caller: &Caller,
    op: &str,
    body: &[u8],
) -> Result<WireResponse, ApiError> {
    operations!(app, caller, op, body, {
        "CreateEventDataStore" => CreateEventDataStoreRequest, create_event_data_store;
        "GetEventDataStore" => GetEventDataStoreRequest, get_event_data_store;
        "ListEventDataStores" => ListEventDataStoresRequest, list_event_data_stores;
        "UpdateEventDataStore" => UpdateEventDataStoreRequest, update_event_data_store;
        "DeleteEventDataStore" => DeleteEventDataStoreRequest, delete_event_data_store;
        "RestoreEventDataStore" => RestoreEventDataStoreRequest, restore_event_data_store;
        "CreateChannel" => CreateChannelRequest, create_channel;
        "GetChannel" => GetChannelRequest, get_channel;
        "ListChannels" => ListChannelsRequest, list_channels;
        "UpdateChannel" => UpdateChannelRequest, update_channel;
        "DeleteChannel" => DeleteChannelRequest, delete_channel;
        "PutResourcePolicy" => PutResourcePolicyRequest, put_resource_policy;
        "GetResourcePolicy" => GetResourcePolicyRequest, get_resource_policy;
        "DeleteResourcePolicy" => DeleteResourcePolicyRequest, delete_resource_policy;
        "StartQuery" => StartQueryRequest, start_query;
        "DescribeQuery" => DescribeQueryRequest, describe_query;
        "GetQueryResults" => GetQueryResultsRequest, get_query_results;
        "ListQueries" => ListQueriesRequest, list_queries;
        "CancelQuery" => CancelQueryRequest, cancel_query;
        "StartEventDataStoreIngestion" => StartEventDataStoreIngestionRequest, start_event_data_store_ingestion;
        "StopEventDataStoreIngestion" => StopEventDataStoreIngestionRequest, stop_event_data_store_ingestion;
        "LookupEvents" => LookupEventsRequest, lookup_events;
        "StartImport" => StartImportRequest, start_import;
        "GetImport" => GetImportRequest, get_import;
        "ListImports" => ListImportsRequest, list_imports;
        "ListImportFailures" => ListImportFailuresRequest, list_import_failures;
        "StopImport" => StopImportRequest, stop_import;
    })
}
