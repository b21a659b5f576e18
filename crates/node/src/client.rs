//! A small blocking HTTP client for the node's API (the CLI, tests and benches use it).

use serde_json::Value;
use std::time::Duration;

/// A client of one node.
#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

/// A request that got no HTTP answer (the node is down, the connection broke).
#[derive(Debug, thiserror::Error)]
#[error("no answer from {url}: {reason}")]
pub struct ClientError {
    /// The URL.
    pub url: String,
    /// What failed.
    pub reason: String,
}

/// An HTTP answer: status and JSON body (or the text, as a JSON string, when it is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Value,
}

impl Answer {
    /// The error code of a typed error answer.
    pub fn error_code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }
}

impl Client {
    /// A client of the node at `base` (e.g. `http://127.0.0.1:8645`).
    pub fn new(base: &str) -> Client {
        Client::with_timeout(base, Duration::from_secs(120))
    }

    /// A client whose every request is given up after `timeout`.
    pub fn with_timeout(base: &str, timeout: Duration) -> Client {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(timeout)).build().into();
        Client { base: base.trim_end_matches('/').to_string(), agent }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn finish(url: &str, result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Answer, ClientError> {
        let mut response = result.map_err(|e| ClientError { url: url.into(), reason: e.to_string() })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .map_err(|e| ClientError { url: url.into(), reason: e.to_string() })?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer { status, body })
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.base);
        Self::finish(&url, self.agent.get(&url).call())
    }

    /// GET `path` as bytes (a binary answer: `/v1/snapshot`, `/v1/blocks/{h}/decided`), at
    /// most `limit` of them: the status and the body.
    pub fn get_bytes(&self, path: &str, limit: u64) -> Result<(u16, Vec<u8>), ClientError> {
        let url = format!("{}{path}", self.base);
        let fail = |e: ureq::Error| ClientError { url: url.clone(), reason: e.to_string() };
        let mut response = self.agent.get(&url).call().map_err(fail)?;
        let status = response.status().as_u16();
        let body = response.body_mut().with_config().limit(limit).read_to_vec().map_err(fail)?;
        Ok((status, body))
    }

    /// POST raw bytes to `path` as JSON.
    pub fn post_bytes(&self, path: &str, body: &[u8]) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.base);
        Self::finish(&url, self.agent.post(&url).header("content-type", "application/json").send(body))
    }

    /// POST raw bytes to `path` with a content type.
    pub fn post_typed(&self, path: &str, content_type: &str, body: &[u8]) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.base);
        Self::finish(&url, self.agent.post(&url).header("content-type", content_type).send(body))
    }

    /// POST a binary batch of transactions that this node forwards (marked with
    /// [`crate::api::FORWARDED_HEADER`]: the receiver does not forward them again, and answers
    /// with the counts only). Returns the HTTP status.
    pub fn post_forwarded(&self, path: &str, body: &[u8]) -> Result<u16, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut response = self
            .agent
            .post(&url)
            .header("content-type", "application/octet-stream")
            .header(crate::api::FORWARDED_HEADER, "1")
            .send(body)
            .map_err(|e| ClientError { url: url.clone(), reason: e.to_string() })?;
        let status = response.status().as_u16();
        response.body_mut().read_to_vec().map_err(|e| ClientError { url, reason: e.to_string() })?;
        Ok(status)
    }

    /// POST a JSON value to `path`.
    pub fn post(&self, path: &str, body: &Value) -> Result<Answer, ClientError> {
        self.post_bytes(path, body.to_string().as_bytes())
    }
}
