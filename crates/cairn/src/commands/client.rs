//! What the commands that talk to a running cairn share (`warm`,
//! `explain`): its URL and the credential to send.

use anyhow::Context;
use base64::Engine;

#[derive(clap::Args)]
pub struct ServerArgs {
    /// cairn's URL.
    #[arg(long, default_value = "http://127.0.0.1:5000")]
    pub url: String,
    /// User name for Basic authentication (with --password-env).
    #[arg(long)]
    pub user: Option<String>,
    /// The environment variable holding the password (or an API token).
    #[arg(long)]
    pub password_env: Option<String>,
    /// The environment variable holding an API token (Bearer). Without
    /// this or --password-env, the session `cairn login` kept for the URL.
    #[arg(long)]
    pub token_env: Option<String>,
}

impl ServerArgs {
    /// The server's URL without a trailing slash.
    pub fn base(&self) -> String {
        self.url.trim_end_matches('/').to_string()
    }

    /// The `Authorization` header value to send, if any: the token or the
    /// password named, else the session `cairn login` kept for this URL.
    pub fn authorization(&self) -> anyhow::Result<Option<String>> {
        Ok(match (&self.token_env, &self.password_env) {
            (Some(var), _) => Some(format!(
                "Bearer {}",
                std::env::var(var).with_context(|| format!("${var} is not set"))?
            )),
            (None, Some(var)) => {
                let secret = std::env::var(var).with_context(|| format!("${var} is not set"))?;
                let user = self.user.as_deref().unwrap_or("admin");
                let pair =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
                Some(format!("Basic {pair}"))
            }
            (None, None) => super::login::stored_token(&self.base()).map(|t| format!("Bearer {t}")),
        })
    }
}

impl ServerArgs {
    /// Sends `req` with the credential, and reads a successful answer as
    /// JSON (a failure is an error carrying the status and the body).
    pub async fn send_json(
        &self,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<serde_json::Value> {
        let body = self.send(req).await?;
        serde_json::from_slice(&body).context("the server's answer is not JSON")
    }

    /// Sends `req` with the credential, and reads a successful answer's
    /// bytes (a failure is an error carrying the status and the body).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Vec<u8>> {
        let req = match self.authorization()? {
            Some(auth) => req.header(reqwest::header::AUTHORIZATION, auth),
            None => req,
        };
        let resp = req.send().await.with_context(|| {
            format!(
                "cannot reach cairn at {}: is it running there? (--url names it)",
                self.base()
            )
        })?;
        let status = resp.status();
        let body = resp.bytes().await?.to_vec();
        if !status.is_success() {
            // The server's `{"error": ...}`, else its body as text.
            let said = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
            let hint = match status.as_u16() {
                401 => format!(
                    "\nsign in with `cairn login --url {}`, or pass --token-env VAR (an API token) or --user and --password-env",
                    self.base()
                ),
                403 => "\nyour grants do not allow it: `cairn whoami` shows who the server takes you for".into(),
                _ => String::new(),
            };
            anyhow::bail!("{status}: {said}{hint}");
        }
        Ok(body)
    }
}

impl ServerArgs {
    /// One admin API operation: `METHOD /api/v1/<segments>` (each segment
    /// encoded as one path segment, so a name with `/` or `@` stays one),
    /// the query pairs, and a JSON body. Answers the JSON the server sent
    /// (`null` for an answer without a body, such as a 204).
    pub async fn call(
        &self,
        method: reqwest::Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1", self.base()))
            .with_context(|| format!("{}: not a URL", self.url))?;
        url.path_segments_mut()
            .map_err(|_| anyhow::anyhow!("{}: not a URL with a path", self.url))?
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = reqwest::Client::new().request(method, url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let bytes = self.send(req).await?;
        if bytes.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).context("the server's answer is not JSON")
    }
}

/// A JSON value as a table cell: strings as they are, nothing as `—`,
/// lists joined with commas, objects as compact JSON.
pub fn cell(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "—".into(),
        Value::String(s) if s.is_empty() => "—".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "—".into(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Prints `rows` as aligned columns under their headers: each column is
/// a header and the JSON pointer of its cell in a row (`/upstream`,
/// `/advisory/id`). No rows prints `none`.
pub fn print_table(rows: &[serde_json::Value], columns: &[(&str, &str)]) {
    if rows.is_empty() {
        println!("none");
        return;
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|(_, pointer)| cell(row.pointer(pointer).unwrap_or(&serde_json::Value::Null)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (header, _))| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([header.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<&str>| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(columns.iter().map(|(h, _)| *h).collect());
    for row in &cells {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Prints an operation's answer: the JSON under `--output json` (or the
/// command's `--json`), else what `text` makes of it.
pub fn print_answer(answer: &serde_json::Value, json: bool, text: impl FnOnce(&serde_json::Value)) {
    if super::json_output(json) {
        println!("{answer}");
    } else {
        text(answer);
    }
}

/// The list under `key` in an answer (none when it is not a list).
pub fn rows<'a>(answer: &'a serde_json::Value, key: &str) -> &'a [serde_json::Value] {
    answer[key].as_array().map_or(&[][..], Vec::as_slice)
}

/// A Unix time (seconds) as UTC, or `never`.
pub fn when(v: &serde_json::Value) -> String {
    match v.as_i64() {
        Some(secs) => cairn_packages::rfc3339(secs),
        None => "never".into(),
    }
}

/// `FORMAT/NAME` split, e.g. `npm/all` → (`npm`, `all`).
pub fn format_and_name(repository: &str) -> anyhow::Result<(&str, &str)> {
    repository
        .split_once('/')
        .filter(|(f, n)| !f.is_empty() && !n.is_empty())
        .with_context(|| {
            format!("{repository:?}: name the repository as FORMAT/NAME, e.g. npm/main")
        })
}

/// An image named `REPOSITORY:TAG` or `REPOSITORY@DIGEST`, split into the
/// repository and the reference.
pub fn split_image(image: &str) -> anyhow::Result<(&str, &str)> {
    if let Some((repo, digest)) = image.split_once('@') {
        return Ok((repo, digest));
    }
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    let colon = image[slash..]
        .find(':')
        .map(|i| slash + i)
        .context("name the image as REPOSITORY:TAG or REPOSITORY@DIGEST")?;
    Ok((&image[..colon], &image[colon + 1..]))
}

#[cfg(test)]
mod tests {
    use super::{format_and_name, split_image};

    #[test]
    fn images_split_into_repository_and_reference() {
        assert_eq!(split_image("prod/app:1.0").unwrap(), ("prod/app", "1.0"));
        assert_eq!(
            split_image("localhost:5000/app:1").unwrap(),
            ("localhost:5000/app", "1")
        );
        assert_eq!(
            split_image("prod/app@sha256:ab").unwrap(),
            ("prod/app", "sha256:ab")
        );
        assert!(split_image("prod/app").is_err());
    }

    #[test]
    fn repositories_are_format_slash_name() {
        assert_eq!(format_and_name("npm/all").unwrap(), ("npm", "all"));
        assert_eq!(format_and_name("oci/team/x").unwrap(), ("oci", "team/x"));
        assert!(format_and_name("npm").is_err());
        assert!(format_and_name("/x").is_err());
    }
}
