//! People's passwords checked by an LDAP directory: cairn binds as the
//! person (their DN from a template, or searched for by a service account),
//! and reads their groups. Every sign-in asks the directory (a verified
//! credential is kept only as long as the credential cache keeps any), so a
//! person removed or moved in the directory loses access within that bound.

use crate::config::LdapSignIn;
use crate::identity::external::{map_groups, valid_user_name};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchOptions};
use std::time::Duration;

/// The source of users the directory vouches for.
pub const LDAP_SOURCE: &str = "ldap";

/// LDAP's result code for a wrong password or an unknown DN.
const INVALID_CREDENTIALS: u32 = 49;
/// At most this many entries answer a person's search (more is a misconfigured filter).
const MAX_MATCHES: i32 = 2;

/// Why a bind did not sign the person in.
enum Refusal {
    /// No such person, or not their password.
    NotTheirs,
    Failed(ldap3::LdapError),
}

impl From<ldap3::LdapError> for Refusal {
    fn from(e: ldap3::LdapError) -> Self {
        Refusal::Failed(e)
    }
}

/// The configured directory.
pub struct Directory {
    config: LdapSignIn,
}

/// Why the directory did not answer.
#[derive(Debug, thiserror::Error)]
#[error("the LDAP directory could not be asked: {0}")]
pub struct DirectoryError(String);

impl From<ldap3::LdapError> for DirectoryError {
    fn from(e: ldap3::LdapError) -> Self {
        DirectoryError(e.to_string())
    }
}

impl Directory {
    /// The directory of `[auth.ldap]`, when it is configured.
    pub fn from_config(config: Option<&LdapSignIn>) -> anyhow::Result<Option<Directory>> {
        let Some(config) = config else {
            return Ok(None);
        };
        if !(config.url.starts_with("ldap://") || config.url.starts_with("ldaps://")) {
            anyhow::bail!("[auth.ldap] url must be ldap://... or ldaps://...");
        }
        if config.user_dn.is_none() && config.user_base.is_empty() {
            anyhow::bail!("[auth.ldap] needs user_dn (a template) or user_base (to search)");
        }
        if config.bind_dn.is_some() != config.bind_password.is_some() {
            anyhow::bail!("[auth.ldap] bind_dn and bind_password go together");
        }
        Ok(Some(Directory {
            config: config.clone(),
        }))
    }

    /// Checks `password` by binding as `user`. `Ok(Some(groups))`: it is
    /// theirs, and these are the cairn groups their directory groups map to;
    /// `Ok(None)`: no such person, or not their password.
    pub async fn verify(
        &self,
        user: &str,
        password: &str,
    ) -> Result<Option<Vec<String>>, DirectoryError> {
        // An empty password is an "unauthenticated bind", which directories
        // answer with success: never a sign-in.
        if password.is_empty() || !valid_user_name(user) {
            return Ok(None);
        }
        let c = &self.config;
        let timeout = Duration::from_secs(c.timeout_secs.max(1));
        let settings = LdapConnSettings::new()
            .set_conn_timeout(timeout)
            .set_starttls(c.starttls);
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &c.url).await?;
        ldap3::drive!(conn);
        ldap.with_timeout(timeout);
        let result = async {
            if let Some(bind_dn) = &c.bind_dn {
                let pw = c.bind_password.as_deref().unwrap_or_default();
                ldap.simple_bind(bind_dn, pw).await?.success()?;
            }
            let dn = match &c.user_dn {
                Some(template) => template.replace("{user}", &ldap3::dn_escape(user)),
                None => {
                    let filter = c.user_filter.replace("{user}", &ldap3::ldap_escape(user));
                    let (found, _) = ldap
                        .with_search_options(SearchOptions::new().sizelimit(MAX_MATCHES))
                        .search(&c.user_base, Scope::Subtree, &filter, vec!["1.1"])
                        .await?
                        .non_error()?;
                    // Nobody, or more than one person: no sign-in.
                    let [entry] = <[_; 1]>::try_from(found).map_err(|_| Refusal::NotTheirs)?;
                    SearchEntry::construct(entry).dn
                }
            };
            match ldap.simple_bind(&dn, password).await?.success() {
                Ok(_) => {}
                Err(ldap3::LdapError::LdapResult { result })
                    if result.rc == INVALID_CREDENTIALS =>
                {
                    return Err(Refusal::NotTheirs);
                }
                Err(e) => return Err(e.into()),
            }
            let Some(base) = &c.group_base else {
                return Ok(vec![]);
            };
            // Groups are read as the service account when there is one (a
            // person may not be allowed to read them), else as the person.
            if let Some(bind_dn) = &c.bind_dn {
                let pw = c.bind_password.as_deref().unwrap_or_default();
                ldap.simple_bind(bind_dn, pw).await?.success()?;
            }
            let filter = c
                .group_filter
                .replace("{dn}", &ldap3::ldap_escape(&dn))
                .replace("{user}", &ldap3::ldap_escape(user));
            let (found, _) = ldap
                .with_search_options(SearchOptions::new())
                .search(
                    base,
                    Scope::Subtree,
                    &filter,
                    vec![c.group_attribute.as_str()],
                )
                .await?
                .non_error()?;
            let names: Vec<String> = found
                .into_iter()
                .map(SearchEntry::construct)
                .flat_map(|e| {
                    e.attrs
                        .into_iter()
                        .filter(|(k, _)| k.eq_ignore_ascii_case(&c.group_attribute))
                        .flat_map(|(_, v)| v)
                })
                .collect();
            Ok::<_, Refusal>(map_groups(&c.groups, names.iter().map(String::as_str)))
        }
        .await;
        let _ = ldap.unbind().await;
        match result {
            Ok(groups) => Ok(Some(groups)),
            Err(Refusal::NotTheirs) => Ok(None),
            Err(Refusal::Failed(e)) => Err(e.into()),
        }
    }
}
