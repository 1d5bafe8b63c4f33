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
        let resp = req.send().await?;
        let status = resp.status();
        let body = resp.bytes().await?.to_vec();
        if !status.is_success() {
            anyhow::bail!("{status}: {}", String::from_utf8_lossy(&body).trim());
        }
        Ok(body)
    }
}
