//! A small client for Cairn's own tools: reads a shared-credentials file and
//! sends requests signed with SigV4 exactly as the AWS SDKs sign them (the
//! `aws-sigv4` crate), over a pooled HTTP/1.1 connection.

use anyhow::{bail, Context, Result};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::path::Path;
use std::time::SystemTime;

/// An access key pair and its account.
pub struct Creds {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// The 12-digit account id.
    pub account_id: String,
}

/// Reads `aws_access_key_id`, `aws_secret_access_key` and `aws_account_id`
/// from an ini file (as `cairn serve` writes `<data-dir>/root-credentials`).
pub fn read_credentials(path: &Path) -> Result<Creds> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading credentials from {}", path.display()))?;
    let get = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
            .with_context(|| format!("{} has no {key}", path.display()))
    };
    Ok(Creds {
        access_key_id: get("aws_access_key_id")?,
        secret_access_key: get("aws_secret_access_key")?,
        account_id: get("aws_account_id")?,
    })
}

/// Signs and sends requests; one per process, shared by its tasks.
pub struct Sender {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: String,
    host: String,
    region: String,
    identity: Identity,
}

/// What one request came back with.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The error code of a failed request.
    pub error: Option<String>,
    /// The JSON body (null when it is not JSON).
    pub body: Value,
}

impl Sender {
    /// A sender to `endpoint` in `region`, keeping up to `connections` idle connections.
    pub fn new(endpoint: &str, region: &str, connections: usize, creds: &Creds) -> Result<Self> {
        let uri: http::Uri = endpoint.parse().context("the endpoint is not a URL")?;
        let host = uri
            .authority()
            .context("the endpoint has no host")?
            .to_string();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(connections)
            .build(connector);
        Ok(Self {
            client,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            host,
            region: region.to_string(),
            identity: Credentials::new(
                &creds.access_key_id,
                &creds.secret_access_key,
                None,
                None,
                "cairn-loadgen",
            )
            .into(),
        })
    }

    /// Sends `body` to `path_and_query`, signed for `service` as the SDKs sign.
    pub async fn send(
        &self,
        service: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer> {
        let uri = format!("{}{path_and_query}", self.endpoint);
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.push(("host".into(), self.host.clone()));
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let signable = SignableRequest::new(
            "POST",
            &uri,
            all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(&body),
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let mut req = http::Request::post(&uri);
        for (k, v) in &all {
            req = req.header(k, v);
        }
        let mut req = req.body(Full::new(Bytes::from(body)))?;
        instructions.apply_to_request_http1x(&mut req);
        let resp = self.client.request(req).await?;
        let status = resp.status().as_u16();
        let header_code = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_string());
        let bytes = resp.into_body().collect().await?.to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let error = (status >= 300).then(|| {
            header_code
                .or_else(|| {
                    body["__type"]
                        .as_str()
                        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
                })
                .unwrap_or_else(|| format!("HTTP {status}"))
        });
        Ok(Answer {
            status,
            error,
            body,
        })
    }

    /// A CloudTrail control-plane call; fails on an error answer.
    pub async fn cloudtrail(&self, op: &str, input: Value) -> Result<Value> {
        let target = format!("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.{op}");
        let a = self
            .send(
                "cloudtrail",
                "/",
                &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", &target),
                ],
                serde_json::to_vec(&input)?,
            )
            .await?;
        if let Some(code) = a.error {
            bail!("{op} failed: {code} (HTTP {}): {}", a.status, a.body);
        }
        Ok(a.body)
    }
}
