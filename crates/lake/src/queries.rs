//! Queries: StartQuery runs a statement asynchronously on a bounded pool;
//! DescribeQuery, GetQueryResults, ListQueries and CancelQuery follow it.
//!
//! A query's state lives in the metadata store and its result rows in a
//! file of the data directory, so results are paged from disk and survive
//! restarts. Queries that were queued or running when the server stopped
//! are marked FAILED at the next start.

use crate::results::{self, ResultsFile};
use crate::{arn, epoch, from_doc, paging, storage, to_doc, Caller, Lake};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use wire::cloudtrail::*;
use wire::{ApiError, ErrorCode};

const KIND: &str = "query";
const RESULTS_KEPT_SECS: f64 = 7.0 * 24.0 * 3600.0;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct QueryState {
    id: String,
    account: String,
    statement: String,
    status: String,
    eds: Vec<String>,
    created: f64,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    events_matched: i64,
    #[serde(default)]
    events_scanned: i64,
    #[serde(default)]
    bytes_scanned: i64,
    #[serde(default)]
    execution_ms: i64,
    #[serde(default)]
    total_results: i64,
}

fn err(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

/// The threads queries run on: their own, so that a heavy query never
/// starves the requests (ingest above all) served on the main runtime.
pub(crate) struct QueryRuntime(Option<tokio::runtime::Runtime>);

impl QueryRuntime {
    pub(crate) fn new(workers: usize) -> Result<Self, ApiError> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("cairn-query")
            .enable_all()
            .build()
            .map(|r| Self(Some(r)))
            .map_err(|e| crate::internal(format!("cannot start the query threads: {e}")))
    }

    fn spawn<F>(&self, work: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.0 {
            Some(r) => r.spawn(work),
            // Only while the lake is being dropped.
            None => tokio::spawn(work),
        }
    }
}

impl Drop for QueryRuntime {
    /// Dropping a runtime blocks, which an async context forbids: let its
    /// threads wind down on their own (running queries are FAILED at the
    /// next start anyway).
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.shutdown_background();
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn is_terminal(status: &str) -> bool {
    matches!(status, "FINISHED" | "FAILED" | "CANCELLED" | "TIMED_OUT")
}

impl Lake {
    /// The query `id` after authorizing `action` on the event data stores
    /// it reads (on all of the account's stores when there is no such query).
    fn load_query(
        &self,
        caller: &Caller,
        action: &str,
        id: Option<&str>,
    ) -> Result<QueryState, ApiError> {
        let id = id.unwrap_or_default();
        let doc = self
            .meta
            .get(KIND, &caller.account_id, &id.to_ascii_lowercase())
            .map_err(storage)?;
        let q: Option<QueryState> = doc.as_deref().map(from_doc).transpose()?;
        let targets: Vec<String> = match &q {
            Some(q) => q
                .eds
                .iter()
                .map(|e| arn::format(&self.region, &caller.account_id, "eventdatastore", e))
                .collect(),
            None => vec![arn::format(
                &self.region,
                &caller.account_id,
                "eventdatastore",
                "*",
            )],
        };
        for target in &targets {
            self.allow(caller, action, target, Default::default())?;
        }
        q.ok_or_else(|| {
            err(
                ErrorCode::QueryIdNotFound,
                format!("Query {id} was not found in account {}.", caller.account_id),
            )
        })
    }

    fn save_query(&self, q: &QueryState) -> Result<(), ApiError> {
        let doc = to_doc(q)?;
        let mut saved = self.meta.replace(KIND, &q.account, &q.id, None, &doc);
        if saved.is_err() && self.disk.release() {
            saved = self.meta.replace(KIND, &q.account, &q.id, None, &doc);
        }
        saved.map_err(storage)?;
        Ok(())
    }

    /// At start: queries that were queued or running died with the old process.
    pub(crate) fn fail_interrupted_queries(&self) -> Result<(), ApiError> {
        for account in self.meta.accounts().map_err(storage)? {
            for doc in self.meta.list(KIND, &account.id).map_err(storage)? {
                let mut q: QueryState = from_doc(&doc)?;
                if !is_terminal(&q.status) {
                    q.status = "FAILED".into();
                    q.error = Some("The query was interrupted because the Cairn server restarted. Run it again.".into());
                    self.save_query(&q)?;
                }
            }
        }
        Ok(())
    }

    /// StartQuery.
    pub async fn start_query(
        self: &std::sync::Arc<Self>,
        caller: &Caller,
        input: StartQueryRequest,
    ) -> Result<StartQueryResponse, ApiError> {
        if input.query_alias.is_some() || input.query_parameters.is_some() {
            return Err(err(
                ErrorCode::InvalidParameter,
                "QueryAlias and QueryParameters belong to CloudTrail Lake dashboards, which Cairn does not have: pass a QueryStatement.",
            ));
        }
        if input.delivery_s3_uri.is_some() {
            return Err(err(
                ErrorCode::UnsupportedOperation,
                "Cairn does not deliver query results to S3 yet: omit DeliveryS3Uri and read the results with GetQueryResults.",
            ));
        }
        if let Some(owner) = &input.event_data_store_owner_account_id {
            if owner != &caller.account_id {
                return Err(err(
                    ErrorCode::EventDataStoreNotFound,
                    format!("Cairn queries event data stores of the caller's own account only; {owner} is not account {}.", caller.account_id),
                ));
            }
        }
        let statement = input.query_statement.ok_or_else(|| {
            err(
                ErrorCode::InvalidParameter,
                "QueryStatement is required: pass the SQL to run.",
            )
        })?;
        let prepared = query::prepare(&statement)
            .map_err(|e| err(ErrorCode::InvalidQueryStatement, e.to_string()))?;
        // CloudTrail Lake queries event data stores; a statement that reads
        // none (SELECT 1) would also escape the StartQuery authorization,
        // which is per store.
        if prepared.tables.is_empty() {
            return Err(err(
                ErrorCode::InvalidQueryStatement,
                "The query reads no event data store: name one in FROM by its id (FROM <event data store id>).",
            ));
        }
        let mut eds = Vec::new();
        let mut layouts = Vec::new();
        for id in &prepared.tables {
            let s = self.authorized_store(caller, "cloudtrail:StartQuery", id)?;
            if s.status == "PENDING_DELETION" {
                return Err(err(
                    ErrorCode::InactiveEventDataStore,
                    format!("Event data store {} is pending deletion and cannot be queried: restore it first.", s.arn),
                ));
            }
            layouts.push((s.id.clone(), s.layout()));
            eds.push(s.id);
        }
        // Unknown columns and functions, type errors: refused now, as AWS
        // does, rather than queued to fail.
        query::check(&prepared, &layouts)
            .await
            .map_err(|e| err(ErrorCode::InvalidQueryStatement, e.to_string()))?;
        let _guard = self.control.lock().await;
        let active = self
            .meta
            .list(KIND, &caller.account_id)
            .map_err(storage)?
            .iter()
            .filter_map(|d| from_doc::<QueryState>(d).ok())
            .filter(|q| !is_terminal(&q.status))
            .count();
        if active >= self.quotas.concurrent_queries {
            return Err(err(
                ErrorCode::MaxConcurrentQueries,
                format!("Account {} already has {active} queued or running queries (the limit). Wait for one to finish or cancel one.", caller.account_id),
            ));
        }
        let q = QueryState {
            id: uuid::Uuid::new_v4().to_string(),
            account: caller.account_id.clone(),
            statement,
            status: "QUEUED".into(),
            eds,
            created: epoch(self.now()),
            error: None,
            events_matched: 0,
            events_scanned: 0,
            bytes_scanned: 0,
            execution_ms: 0,
            total_results: 0,
        };
        let doc = to_doc(&q)?;
        if self
            .meta
            .insert(KIND, &q.account, &q.id, None, &doc)
            .is_err()
            && self.disk.release()
        {
            // A full disk: the reserved space is free now; once more.
            self.meta
                .insert(KIND, &q.account, &q.id, None, &doc)
                .map_err(storage)?;
        }
        let lake = self.clone();
        let id = q.id.clone();
        // Registered before the query can finish and deregister itself.
        let mut running = self.running.lock().map_err(|_| {
            err(
                ErrorCode::InternalFailure,
                "the query registry is unavailable; retry",
            )
        })?;
        // The query is supervised from the requests' runtime, so that its
        // clock and its cancellation never wait for a busy query thread;
        // only the work itself runs on the query threads.
        let supervisor = tokio::spawn(async move { lake.run_query(q, prepared).await });
        running.insert(id.clone(), supervisor.abort_handle());
        drop(running);
        Ok(StartQueryResponse {
            query_id: Some(id),
            event_data_store_owner_account_id: None,
        })
    }

    /// Reads the stores `eds` of `account` and runs `prepared` over them into `sink`.
    async fn execute_query(
        &self,
        account: &str,
        eds: &[String],
        prepared: &query::Prepared,
        sink: &mut ResultsFile,
    ) -> Result<query::Statistics, String> {
        let ctx = query::session();
        let now = self.now();
        let stores: Vec<(String, tables::TableSpec)> = self
            .stores(account)
            .map_err(|e| e.message)?
            .into_iter()
            .filter(|s| eds.contains(&s.id))
            .map(|s| {
                let spec = s.table_spec(now);
                (s.id, spec)
            })
            .collect();
        let tables = self
            .tables
            .scan(&ctx, &stores)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "reading event tables failed");
                format!("The event data could not be read ({e}). Retry the query.")
            })?
            .into_iter()
            .map(|s| query::Table {
                id: s.id,
                provider: s.provider,
                events: s.events,
                bytes: s.bytes,
            })
            .collect();
        query::execute(&ctx, prepared, tables, sink)
            .await
            .map_err(|e| e.to_string())
    }

    async fn run_query(self: std::sync::Arc<Self>, mut q: QueryState, prepared: query::Prepared) {
        let Ok(_slot) = self.query_slots.clone().acquire_owned().await else {
            return;
        };
        // Cancelled while queued?
        if let Ok(Some(doc)) = self.meta.get(KIND, &q.account, &q.id) {
            if from_doc::<QueryState>(&doc)
                .map(|s| is_terminal(&s.status))
                .unwrap_or(false)
            {
                return;
            }
        }
        q.status = "RUNNING".into();
        if let Err(e) = self.save_query(&q) {
            tracing::error!(error = %e, "could not mark a query RUNNING");
        }
        let started = std::time::Instant::now();
        match ResultsFile::create(&self.results_dir, &q.id, self.disk.clone()) {
            Err(e) => {
                q.status = "FAILED".into();
                q.error = Some(format!("The query results could not be saved: {e}"));
            }
            Ok(mut sink) => {
                let lake = self.clone();
                let (account, eds) = (q.account.clone(), q.eds.clone());
                // The work is a task of its own, so that it can be stopped
                // from outside: by CancelQuery (dropping this future drops
                // the guard) or by the timeout.
                let mut work = self.query_runtime.spawn(async move {
                    let outcome = lake
                        .execute_query(&account, &eds, &prepared, &mut sink)
                        .await;
                    (outcome, sink)
                });
                let _stop_on_cancel = AbortOnDrop(work.abort_handle());
                let timeout = self.quotas.query_timeout;
                tokio::select! {
                    done = &mut work => match done {
                        Ok((Ok(stats), sink)) => match sink.finish() {
                            Ok(rows) => {
                                q.total_results = rows as i64;
                                q.events_matched = stats.events_matched as i64;
                                q.events_scanned = stats.events_scanned as i64;
                                q.bytes_scanned = stats.bytes_scanned as i64;
                                q.status = "FINISHED".into();
                            }
                            Err(e) => {
                                q.status = "FAILED".into();
                                q.error = Some(format!("The query results could not be saved: {e}"));
                            }
                        },
                        Ok((Err(message), _)) => {
                            q.status = "FAILED".into();
                            q.error = Some(message);
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "a query's task ended abnormally");
                            q.status = "FAILED".into();
                            q.error = Some("The query stopped unexpectedly. Run it again.".into());
                        }
                    },
                    _ = tokio::time::sleep(timeout) => {
                        work.abort();
                        q.status = "TIMED_OUT".into();
                        q.error = Some(format!(
                            "The query ran longer than {} seconds and was stopped.",
                            timeout.as_secs()
                        ));
                    }
                }
            }
        }
        q.execution_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        // A CancelQuery that landed meanwhile wins.
        if let Ok(Some(doc)) = self.meta.get(KIND, &q.account, &q.id) {
            if from_doc::<QueryState>(&doc)
                .map(|s| s.status == "CANCELLED")
                .unwrap_or(false)
            {
                return;
            }
        }
        if let Err(e) = self.save_query(&q) {
            tracing::error!(error = %e, "could not record a query's outcome");
        }
        if let Ok(mut running) = self.running.lock() {
            running.remove(&q.id);
        }
    }

    /// Forgets the queries older than 7 days and deletes their results,
    /// as AWS keeps them 7 days; returns how many went.
    pub(crate) fn expire_queries(&self, now: time::OffsetDateTime) -> Result<usize, ApiError> {
        let horizon = epoch(now) - RESULTS_KEPT_SECS;
        let mut expired = 0;
        for account in self.meta.accounts().map_err(storage)? {
            for doc in self.meta.list(KIND, &account.id).map_err(storage)? {
                let q: QueryState = from_doc(&doc)?;
                if q.created < horizon && is_terminal(&q.status) {
                    // Results first: a crash in between leaves the query listed, and it goes next time.
                    results::remove(&self.results_dir, &q.id);
                    self.meta.delete(KIND, &q.account, &q.id).map_err(storage)?;
                    expired += 1;
                }
            }
        }
        Ok(expired)
    }

    /// DescribeQuery.
    pub async fn describe_query(
        &self,
        caller: &Caller,
        input: DescribeQueryRequest,
    ) -> Result<DescribeQueryResponse, ApiError> {
        if input.query_alias.is_some() {
            return Err(err(
                ErrorCode::InvalidParameter,
                "QueryAlias belongs to dashboards, which Cairn does not have: pass QueryId.",
            ));
        }
        if input.query_id.is_none() {
            return Err(err(ErrorCode::InvalidParameter, "QueryId is required."));
        }
        let q = self.load_query(
            caller,
            "cloudtrail:DescribeQuery",
            input.query_id.as_deref(),
        )?;
        Ok(DescribeQueryResponse {
            query_id: Some(q.id),
            query_string: Some(q.statement),
            query_status: Some(q.status),
            query_statistics: Some(QueryStatisticsForDescribeQuery {
                events_matched: Some(q.events_matched),
                events_scanned: Some(q.events_scanned),
                bytes_scanned: Some(q.bytes_scanned),
                execution_time_in_millis: Some(q.execution_ms),
                creation_time: Some(q.created),
            }),
            error_message: q.error,
            delivery_s3_uri: None,
            delivery_status: None,
            prompt: None,
            event_data_store_owner_account_id: None,
        })
    }

    /// GetQueryResults.
    pub async fn get_query_results(
        &self,
        caller: &Caller,
        input: GetQueryResultsRequest,
    ) -> Result<GetQueryResultsResponse, ApiError> {
        let size = paging::page_size(input.max_query_results, 1000, 1000)?;
        let q = self.load_query(
            caller,
            "cloudtrail:GetQueryResults",
            input.query_id.as_deref(),
        )?;
        let list = format!("results-{}", &q.id[..8.min(q.id.len())]);
        let start = paging::offset(&list, input.next_token.as_deref())?;
        let stats = |results: i64| QueryStatistics {
            results_count: Some(results),
            total_results_count: Some(q.total_results),
            bytes_scanned: Some(q.bytes_scanned),
        };
        if q.status != "FINISHED" {
            return Ok(GetQueryResultsResponse {
                query_status: Some(q.status.clone()),
                query_statistics: Some(stats(0)),
                query_result_rows: Some(Vec::new()),
                next_token: None,
                error_message: q.error.clone(),
            });
        }
        let unreadable = |e: String| {
            err(
                ErrorCode::InternalFailure,
                format!(
                    "The results of query {} could not be read ({e}). Run the query again.",
                    q.id
                ),
            )
        };
        let (columns, rows) =
            results::read_page(&self.results_dir, &q.id, start, size).map_err(unreadable)?;
        let end = start + rows.len();
        let next = (end < q.total_results.max(0) as usize).then(|| paging::token(&list, end));
        let rows: Vec<Vec<HashMap<String, String>>> = rows
            .into_iter()
            .map(|row| {
                columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| HashMap::from([(c.clone(), v)]))
                    .collect()
            })
            .collect();
        let count = rows.len() as i64;
        Ok(GetQueryResultsResponse {
            query_status: Some(q.status.clone()),
            query_statistics: Some(stats(count)),
            query_result_rows: Some(
                rows.into_iter()
                    .map(|r| r.into_iter().map(|m| m.into_iter().collect()).collect())
                    .collect(),
            ),
            next_token: next,
            error_message: q.error.clone(),
        })
    }

    /// ListQueries: the queries of the past 7 days that read an event data store.
    pub async fn list_queries(
        &self,
        caller: &Caller,
        input: ListQueriesRequest,
    ) -> Result<ListQueriesResponse, ApiError> {
        let s = self.authorized_store(
            caller,
            "cloudtrail:ListQueries",
            input.event_data_store.as_deref().unwrap_or_default(),
        )?;
        let size = paging::page_size(input.max_results, 1000, 1000)?;
        let start = paging::offset("queries", input.next_token.as_deref())?;
        if let (Some(a), Some(b)) = (input.start_time, input.end_time) {
            if a > b {
                return Err(err(
                    ErrorCode::InvalidDateRange,
                    "StartTime is after EndTime: pass a StartTime at or before EndTime.",
                ));
            }
        }
        let horizon = epoch(self.now()) - RESULTS_KEPT_SECS;
        let mut all: Vec<Query> = self
            .meta
            .list(KIND, &caller.account_id)
            .map_err(storage)?
            .iter()
            .filter_map(|d| from_doc::<QueryState>(d).ok())
            .filter(|q| q.eds.contains(&s.id) && q.created >= horizon)
            .filter(|q| input.start_time.is_none_or(|t| q.created >= t))
            .filter(|q| input.end_time.is_none_or(|t| q.created <= t))
            .filter(|q| input.query_status.as_ref().is_none_or(|st| &q.status == st))
            .map(|q| Query {
                query_id: Some(q.id),
                query_status: Some(q.status),
                creation_time: Some(q.created),
            })
            .collect();
        all.reverse(); // newest first
        let (page, next) = paging::page("queries", &all, start, size);
        Ok(ListQueriesResponse {
            queries: Some(page),
            next_token: next,
        })
    }

    /// CancelQuery.
    pub async fn cancel_query(
        &self,
        caller: &Caller,
        input: CancelQueryRequest,
    ) -> Result<CancelQueryResponse, ApiError> {
        let _guard = self.control.lock().await;
        let mut q = self.load_query(caller, "cloudtrail:CancelQuery", input.query_id.as_deref())?;
        if is_terminal(&q.status) {
            return Err(err(
                ErrorCode::InactiveQuery,
                format!(
                    "Query {} is already {}; only QUEUED or RUNNING queries can be cancelled.",
                    q.id, q.status
                ),
            ));
        }
        if let Ok(mut running) = self.running.lock() {
            if let Some(h) = running.remove(&q.id) {
                h.abort();
            }
        }
        q.status = "CANCELLED".into();
        self.save_query(&q)?;
        Ok(CancelQueryResponse {
            query_id: Some(q.id),
            query_status: Some(q.status),
            event_data_store_owner_account_id: None,
        })
    }
}
